/**
 * Social sign-in (`features.social`: Google, Microsoft, Apple, GitHub, Facebook) on the
 * federation machinery: the same signed, expiring `state` and pending row (nonce, sealed PKCE
 * verifier, the browser's cookie hash), taken once by the callback; the same provisioning
 * (an upstream account seen before is its user; linking by email only when the tenant opted
 * in with `link_by_verified_email` and the provider vouches for the email); the tenant's MFA
 * rules after it. The provider's part is federation/social-client.ts.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { AtriumConfig } from '../config/env.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { SOCIAL_PROVIDERS, type SocialProvider } from '../config/tenant-config-schema.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { issuerUrl, type Tenant } from '../tenancy/tenant.ts';
import { mergedSection, openTenantSecret } from '../tenancy/tenant-config.ts';
import { FederationError } from '../federation/federation-error.ts';
import type { FederationFlowParts } from '../federation/federation.ts';
import { browserHash } from '../federation/login-state-store.ts';
import { SOCIAL_CALLBACK_PATH } from '../federation/redirect-uris.ts';
import { mintState, verifyState } from '../federation/signed-state.ts';
import { authorizationUrl, socialClaims, appleClientSecret, type SocialSettings } from '../federation/social-client.ts';
import { resolvedSpec, socialConnectionName, SOCIAL_SPECS } from '../federation/social-providers.ts';
import { pendingAfterFederation, secondFactorDue } from '../mfa/second-factor.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import { browserCookie } from './federated-sign-in.ts';

interface StoredSocial extends SocialSettings { enabled?: boolean; link_by_verified_email?: boolean }

export interface SocialButton {
  provider: SocialProvider;
  displayName: string;
  action: string;
}

const BROWSER_SECRET = /^[A-Za-z0-9_-]{43}$/;
const epochTime = () => Math.floor(Date.now() / 1000);

/** The tenant's usable social providers: switched on, with a client id and its secret (or Apple's key) stored. */
export function socialProvidersOf(tenant: Pick<Tenant, 'config'>): SocialProvider[] {
  const social = (mergedSection(tenant, 'features').social ?? {}) as Partial<Record<SocialProvider, StoredSocial>>;
  return SOCIAL_PROVIDERS.filter((name) => social[name]?.enabled === true && typeof social[name]?.client_id === 'string');
}

export type SocialSignInDeps = FederationFlowParts & { config: AtriumConfig; box: SecretBox; audit: AuditLog; mfa: Pick<MfaService, 'status'> };

export class SocialSignIn {
  readonly #deps: SocialSignInDeps;
  constructor(deps: SocialSignInDeps) {
    this.#deps = deps;
  }

  buttons(tenant: Tenant, uid: string): SocialButton[] {
    return socialProvidersOf(tenant).map((provider) => ({ provider, displayName: SOCIAL_SPECS[provider].displayName, action: `/interaction/${encodeURIComponent(uid)}/social/${provider}` }));
  }

  #settings(tenant: Tenant, provider: string): { name: SocialProvider; settings: StoredSocial } {
    const name = SOCIAL_PROVIDERS.find((p) => p === provider);
    if (!name || !socialProvidersOf(tenant).includes(name)) throw new FederationError('connection_unavailable', 404, { provider: provider.slice(0, 32) });
    return { name, settings: (mergedSection(tenant, 'features').social as Record<SocialProvider, StoredSocial>)[name] };
  }

  /** The secret the token endpoint takes: the stored client secret, or Apple's JWT signed with the tenant's key. */
  async #secret(tenant: Tenant, name: SocialProvider, settings: StoredSocial): Promise<string> {
    if (name === 'apple') {
      const key = openTenantSecret(this.#deps.box, tenant, 'features.social.apple.private_key');
      if (!key) throw new FederationError('connection_unavailable', 404, { provider: 'Apple' });
      return appleClientSecret(settings, key);
    }
    const secret = openTenantSecret(this.#deps.box, tenant, `features.social.${name}.client_secret`);
    if (!secret) throw new FederationError('connection_unavailable', 404, { provider: SOCIAL_SPECS[name].displayName });
    return secret;
  }

  async begin(ctx: Context, tenant: Tenant, interactionUid: string, provider: string): Promise<string> {
    const { name, settings } = this.#settings(tenant, provider);
    const spec = resolvedSpec(name, this.#deps.config);
    const { state, stateId, expiresAt } = mintState(this.#deps.box, tenant.id, this.#deps.config.oidcStateTtlSeconds);
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const redirectUri = issuerUrl(tenant, this.#deps.config, SOCIAL_CALLBACK_PATH).href;
    const cookie = browserCookie(ctx);
    const existing = cookie.get(ctx);
    const secret = existing && BROWSER_SECRET.test(existing) ? existing : randomBytes(32).toString('base64url');
    cookie.set(ctx, secret, this.#deps.config.oidcStateTtlSeconds * 1000);
    await this.#deps.states.save(tenant.id, { stateId, connectionName: socialConnectionName(name), interactionUid, nonce, codeVerifier, redirectUri, browserHash: browserHash(secret), expiresAt });
    await this.#deps.audit.record({ action: 'federation.sign_in_started', actor: null, target: socialConnectionName(name), ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { social: name } });
    return authorizationUrl(spec, settings, { redirectUri, state, nonce, codeChallenge: await oidc.calculatePKCECodeChallenge(codeVerifier) });
  }

  /** The callback (a GET; Apple's form post is turned into one first): answers where the authorization resumes. */
  async complete(ctx: Context, tenant: Tenant, runtime: ProviderRuntime): Promise<string> {
    const audit = { ip: ctx.ip, userAgent: ctx.get('user-agent') };
    let target: string | null = null;
    try {
      const verified = verifyState(this.#deps.box, ctx.query.state);
      if (!verified || verified.tenantId !== tenant.id) throw new FederationError('state_invalid', 400);
      if (verified.expired) throw new FederationError('state_expired', 400);
      const pending = await this.#deps.states.take(tenant.id, verified.stateId);
      if (!pending?.connectionName.startsWith('social:')) throw new FederationError('state_used', 400);
      target = pending.connectionName;
      const { name, settings } = this.#settings(tenant, pending.connectionName.slice('social:'.length));
      const spec = resolvedSpec(name, this.#deps.config);
      const cookieSecret = browserCookie(ctx).get(ctx);
      if (!cookieSecret || browserHash(cookieSecret) !== pending.browserHash) throw new FederationError('browser_mismatch', 400);
      if (typeof ctx.query.error === 'string') {
        const reason = ctx.query.error.replace(/[^\w.-]/g, '').slice(0, 64) || 'error';
        throw new FederationError('upstream_error', 400, { provider: spec.displayName, reason }, { upstream_error: reason });
      }
      if (typeof ctx.query.code !== 'string' || !ctx.query.code) throw new FederationError('upstream_error', 400, { provider: spec.displayName, reason: 'no_code' });
      let claims;
      try {
        claims = await socialClaims(spec, (url, init = {}) => this.#deps.clients.fetch(url, init), {
          settings, secret: await this.#secret(tenant, name, settings), code: ctx.query.code, redirectUri: pending.redirectUri, verifier: pending.codeVerifier, nonce: pending.nonce, appleUser: ctx.query.user,
        });
      } catch (err) {
        if (err instanceof FederationError) throw err;
        throw new FederationError('upstream_unreachable', 400, { provider: spec.displayName }, {}, { cause: err });
      }
      const { user, outcome } = await this.#deps.provisioning.userFor(claims, { connectionName: socialConnectionName(name), displayName: spec.displayName, linkByVerifiedEmail: settings.link_by_verified_email === true, roleMapping: {}, audit });
      const interaction = await runtime.provider.Interaction.find(pending.interactionUid);
      if (!interaction) throw new FederationError('interaction_expired', 400);
      const mfaDue = await secondFactorDue(this.#deps.mfa, tenant, user, interaction.params);
      interaction.result = mfaDue ? pendingAfterFederation(user.id) : { login: { accountId: user.id, amr: ['fed'] } };
      await interaction.save(interaction.exp - epochTime());
      await this.#deps.audit.record({ action: 'federation.sign_in', actor: user.id, target: user.id, ...audit, details: { social: name, issuer: claims.issuer, subject: claims.subject, outcome, client_id: interaction.params.client_id, second_factor: mfaDue } });
      return mfaDue ? new URL(`/interaction/${encodeURIComponent(interaction.uid)}/mfa`, interaction.returnTo).href : interaction.returnTo;
    } catch (err) {
      if (err instanceof FederationError) await this.#deps.audit.record({ action: 'federation.sign_in', outcome: 'failure', actor: null, target, ...audit, details: { reason: err.code, ...err.details } });
      throw err;
    }
  }
}
