/**
 * Everything the pages of the sign-in journey need (login, consent, MFA, upstream IdPs and
 * the relay, signup, reset), in one typed object built once by the composition root
 * (app.ts) and passed to every page explicitly: no page finds a service on `ctx.state`,
 * and none depends on the order middlewares are mounted in.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Metrics } from '../core/metrics.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import type { TenantRuntimes } from '../runtime/tenant-runtime.ts';
import type { AccountRecovery } from '../account-recovery/account-recovery.ts';
import type { Federation, FederationFlowParts } from '../federation/federation.ts';
import { LogoutTokenVerifier } from '../federation/logout-token.ts';
import type { UserSessionService } from '../accounts/user-sessions.ts';
import { FederatedSignOut } from './federated-sign-out.ts';
import type { FederationService } from '../federation/federation-service.ts';
import { FormCsrf } from '../web/form-csrf.ts';
import { FederatedSignIn } from './federated-sign-in.ts';
import { SocialSignIn } from './social-sign-in.ts';

export interface InteractionDeps {
  config: AtriumConfig;
  box: SecretBox;
  /** Tenants by id: the federation relay runs before tenant resolution. */
  registry: TenantRegistry;
  users: UserStore;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  metrics: Pick<Metrics, 'signIn' | 'rateLimitRejections'>;
  /** Account lockout (accounts/lockout.ts), next to the rate limits. */
  lockout: Pick<LoginLockout, 'guard'>;
  /** Second factors: the MFA step, passkey sign-in, enrolment. */
  mfa: MfaService;
  /** The tenant's upstream connections: the login page's buttons and home-realm discovery. */
  federation: FederationService;
  /** The upstream sign-in flow: begin at the login page, complete at the callback. */
  federatedSignIn: FederatedSignIn;
  /** Social sign-in buttons (features.social) and their callback. */
  socialSignIn: SocialSignIn;
  /** Signup, email verification, password reset and invitations. */
  recovery: AccountRecovery;
  /** CSRF tokens of the pages outside an interaction (verification and reset links). */
  csrf: FormCsrf;
  /** The upstream sign-out's return route (federated-sign-out.ts). */
  federatedSignOut: FederatedSignOut;
  /** Verifies upstreams' logout tokens (Back-Channel Logout 1.0). */
  logoutTokens: LogoutTokenVerifier;
  /** Federation's stores and clients, for the logout routes. */
  flow: FederationFlowParts;
  /** Ends the sessions an upstream's logout token names. */
  userSessions: Pick<UserSessionService, 'revoke'>;
  /** Each tenant's runtime: the federation relay enters the tenant its state names (pages read `ctx.state.runtime`). */
  runtimes: TenantRuntimes;
}

/** What the composition root hands over; the page-level parts (CSRF, the upstream flow) are built here. */
export type InteractionServices = Omit<InteractionDeps, 'federation' | 'federatedSignIn' | 'socialSignIn' | 'csrf' | 'federatedSignOut' | 'logoutTokens' | 'flow'> & { federation: Federation };

export function createInteractionDeps(services: InteractionServices): InteractionDeps {
  const { config, box, audit, mfa, federation } = services;
  return {
    ...services,
    federation: federation.service,
    federatedSignIn: new FederatedSignIn({ config, box, audit, mfa, ...federation.flow }),
    socialSignIn: new SocialSignIn({ config, box, audit, mfa, ...federation.flow }),
    csrf: new FormCsrf(),
    federatedSignOut: new FederatedSignOut({ config, box, audit, ...federation.flow }),
    logoutTokens: new LogoutTokenVerifier((url, init) => federation.flow.clients.fetch(url, init)),
    flow: federation.flow,
  };
}
