/**
 * The oidc-provider configuration of one tenant: its adapter, keys, account lookups, cookies,
 * features, lifetimes and pages. Built by provider-factory.ts for every Provider of the tenant.
 */
import { errors, type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import type { AtriumConfig } from '../config/env.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Metrics } from '../core/metrics.ts';
import { PROFILE_CLAIMS } from '../accounts/profile-claims.ts';
import type { UserStore, UserWithSecret } from '../accounts/user-store.ts';
import { renderPage } from '../core/views.ts';
import { pageLocals } from '../tenancy/page-locals.ts';
import type { Translate } from '../core/i18n.ts';
import { CONSOLE_CLIENT_ID, consoleClient } from './console-client.ts';
import { createAdapterClass, unlessStorageDown } from './adapter.ts';
import { readAheadAccount } from './sign-in-read-ahead.ts';
import type { TenantMaterials } from './tenant-materials.ts';
import { apiResourceServerFor, type ApiResourceServer } from './api-resource.ts';
import { tokenLifetimes } from './token-lifetimes.ts';
import { enabledGrants, offeredScopes, withEnabledGrants } from './enabled-grants.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import { ACR_VALUES } from '../mfa/mfa-policy.ts';
import { interactionPolicyWithStepUp } from '../mfa/step-up.ts';
import { cookieRule } from '../core/cookie-rule.ts';
import { upstreamStillVouches, type RefreshHook, type RefreshTokenLike } from './refresh-upstream-check.ts';
import { CookieSigner } from './cookie-signer.ts';

export type { RefreshCheck } from './refresh-upstream-check.ts';

export interface ProviderDeps {
  config: AtriumConfig;
  db: Database;
  box: SecretBox;
  users: UserStore;
  materials: TenantMaterials;
  audit: AuditLog;
  metrics: Pick<Metrics, 'tokenIssued'>;
  /** oidc-provider's outbound calls (client jwks_uri, sector_identifier_uri, back-channel logout) go through it. */
  egress: Pick<EgressGuard, 'fetch'>;
  /** Told of every completed authorization with a session: its device record, new-device mail (services.ts). */
  onSignedIn?: (tenant: Tenant, signIn: CompletedSignIn) => Promise<void>;
  /**
   * After RP-initiated logout ended a session (the person chose to sign out): where the
   * browser goes instead of `then` (the upstream's sign-out), or undefined (services.ts).
   */
  onSignedOut?: (tenant: Tenant, ctx: KoaContextWithOIDC, session: { uid: string; accountId: string | null }, then: string) => Promise<string | undefined>;
  /**
   * At each refresh_token grant, before anything is issued: whether the session's upstream
   * still vouches for it (federation/introspection.ts, wired in session-ends.ts). On
   * 'inactive' the hook has called `endGrant` and ended the session; the grant is refused.
   */
  onRefresh?: RefreshHook;
}

export interface CompletedSignIn {
  sessionUid: string;
  userId: string;
  ip: string;
  userAgent: string;
  amr: readonly string[];
  /** The interaction the sign-in completed, when it went through one (an upstream sign-in is recorded under it). */
  interactionUid?: string;
}

/** The OpenID scopes of every tenant; its Provider knows these and the API's (api-resource.ts). */
export const OIDC_SCOPES = ['openid', 'offline_access', 'email', 'profile', 'phone', 'address', 'roles'];

type Jwks = Configuration['jwks'];

export function providerConfiguration(tenant: Tenant, issuer: string, jwks: Jwks, deps: ProviderDeps): Configuration {
  const api = apiResourceServerFor(tenant, deps.config);
  const ttl = tokenLifetimes(tenant);
  const grants = enabledGrants(tenant);
  return {
    // Atrium's own pages (/account, /admin) sign in through this Provider like any app. Its
    // client is served by the lookup rather than `clients`, which oidc-provider would
    // validate on every build of a Provider instead of on first use.
    adapter: createAdapterClass(tenant.id, deps.db, async (clientId) => {
      if (clientId === CONSOLE_CLIENT_ID) return consoleClient(issuer);
      const client = await deps.materials.client(tenant, clientId);
      return client && withEnabledGrants(client, grants);
    }, (idSql) => deps.users.byIdStatement(idSql)),
    jwks: jwks,
    // A client's jwks_uri and sector_identifier_uri are tenant-supplied URLs: fetched through
    // the egress guard (its own timeout and size cap; oidc-provider's signal still applies).
    fetch: ((url: string | URL, options: Record<string, unknown>) => deps.egress.fetch(url, { ...options, timeoutMs: 5_000, maxBytes: 512 * 1024, strict: true })) as never,
    ...accountLookups(tenant, deps),
    // acr and amr (src/mfa) in every ID token: what the sign-in used, not only when asked for.
    // `roles` is opt-in, by its scope. oidc-provider puts only the openid scope's claims in
    // an ID token issued with an access token (conformIdTokenClaims), so `roles` is listed
    // under openid too; `claims()` returns it only when the `roles` scope was granted.
    // The standard claims by their standard scopes (OpenID Connect Core 1.0 section 5.4);
    // discovery's claims_supported is made from this map.
    claims: {
      openid: ['sub', 'acr', 'amr', 'roles'],
      email: ['email', 'email_verified'],
      profile: ['name', ...PROFILE_CLAIMS.filter((c) => c !== 'address')],
      phone: ['phone_number', 'phone_number_verified'],
      address: ['address'],
      roles: ['roles'],
    },
    // The same opt-in for access tokens: in a JWT access token, and in introspection of an opaque one.
    async extraTokenClaims(_ctx, token) {
      const accountId = 'accountId' in token ? token.accountId : undefined;
      if (typeof accountId !== 'string' || !grantedScopes(token).has('roles')) return undefined;
      const user = await accountUser(deps.users, accountId);
      return user ? { roles: user.roles } : undefined;
    },
    scopes: [...offeredScopes(OIDC_SCOPES, grants), ...api.scopes],
    discovery: discoveryMetadata(tenant),
    cookies: cookieSettings(tenant, issuer, deps.box),
    features: providerFeatures(tenant, api, grants.has('client_credentials')),
    pkce: { required: (_ctx, client) => client.clientAuthMethod === 'none' },
    rotateRefreshToken: true,
    // Step-up: acr_values naming the MFA level force a second factor (src/mfa/step-up.ts).
    interactions: { policy: interactionPolicyWithStepUp(), url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    acrValues: [...ACR_VALUES],
    ttl: {
      AccessToken: ttl.accessToken,
      ClientCredentials: ttl.accessToken,
      IdToken: ttl.idToken,
      RefreshToken: ttl.refreshToken,
      AuthorizationCode: 60,
      Interaction: 3600,
      Session: ttl.session,
      Grant: ttl.refreshToken,
    },
    clientDefaults: {
      grant_types: ['authorization_code'],
      id_token_signed_response_alg: 'RS256',
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
    responseTypes: ['code', 'none'],
    async renderError(ctx, out, error) {
      const described = error instanceof errors.OIDCProviderError && error.expose && 'error_description' in out && out.error_description ? String(out.error_description) : undefined;
      await renderProviderPage(ctx, tenant, 'error', (t) => ({ title: 'common.error_title', heading: t('common.error_title'), message: described ?? t('common.request_failed') }));
    },
  };
}

/** How the Provider finds a user, and the console's grant (first-party: never asked to consent). */
function accountLookups(tenant: Tenant, deps: Pick<ProviderDeps, 'users' | 'onRefresh'>): Pick<Configuration, 'loadExistingGrant' | 'findAccount'> {
  const { users } = deps;
  return {
    async loadExistingGrant(ctx) {
      const grantId = ctx.oidc.result?.consent?.grantId ?? ctx.oidc.session?.grantIdFor(ctx.oidc.client!.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      // The console is first-party: its users are never asked to consent to Atrium itself.
      if (ctx.oidc.client?.clientId !== CONSOLE_CLIENT_ID || !ctx.oidc.session?.accountId) return undefined;
      const grant = new ctx.oidc.provider.Grant({ clientId: CONSOLE_CLIENT_ID, accountId: ctx.oidc.session.accountId });
      grant.addOIDCScope('openid email profile');
      await grant.save();
      return grant;
    },
    async findAccount(ctx, sub, token) {
      const user = await accountUser(users, sub);
      if (!user || user.status !== 'active') return undefined;
      // oidc-provider looks the account up with the refresh token once, after checking the
      // token, its client and its grant, and before consuming or issuing anything: the one
      // place every refresh_token grant passes (the fast path serves client_credentials only).
      if (deps.onRefresh && token?.kind === 'RefreshToken' && ctx.oidc?.route === 'token') await upstreamStillVouches(tenant, ctx, token as RefreshTokenLike, deps.onRefresh);
      return {
        accountId: user.id,
        async claims(_use, scope) {
          return accountClaims(user, scope);
        },
      };
    },
  };
}

/**
 * Every claim Atrium holds for the user; oidc-provider keeps those of the granted scopes
 * (and the claims parameter). The phone comes from the phone columns, the one record of a
 * user's number (verified in /account, or vouched for by their upstream), never from the profile.
 */
function accountClaims(user: UserWithSecret, scope: string) {
  const { address, updated_at: upstreamUpdatedAt, ...profile } = user.profile;
  const updatedAt = Math.floor(user.updatedAt.getTime() / 1000);
  return {
    ...(scope.split(' ').includes('roles') ? { roles: user.roles } : {}),
    ...profile,
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name ?? undefined,
    // The later of Atrium's own change and the upstream's word on its own.
    updated_at: Math.max(updatedAt, upstreamUpdatedAt ?? 0),
    ...(user.verifiedPhone ? { phone_number: user.verifiedPhone, phone_number_verified: true } : {}),
    ...(address ? { address } : {}),
  };
}

/** The user `sub` names: as a token grant read it with its code or refresh token (adapter.ts), else read now. */
function accountUser(users: UserStore, sub: string): Promise<UserWithSecret | undefined> {
  return readAheadAccount(sub, () => unlessStorageDown(() => users.findById(sub)));
}

function grantedScopes(token: object): Set<string> {
  const scope = (token as { scope?: unknown }).scope;
  return new Set(typeof scope === 'string' ? scope.split(' ') : []);
}

function cookieSettings(tenant: Tenant, issuer: string, box: SecretBox): Configuration['cookies'] {
  const cookie = cookieRule(issuer);
  return {
    // Keys derived per tenant: a cookie signed by one tenant never verifies at another.
    // A signer rather than the keys themselves: keygrip's signatures, at a fraction of its cost (cookie-signer.ts).
    keys: new CookieSigner(box.deriveKeys('cookies', tenant.id)),
    // Secure and prefixed per the issuer, like every Atrium cookie (core/cookie-rule.ts).
    long: { signed: true, httpOnly: true, sameSite: 'lax', secure: cookie.secure },
    short: { signed: true, httpOnly: true, sameSite: 'lax', secure: cookie.secure },
    // Named per tenant too: tenants reached on one host (the tenant header) keep separate cookies.
    // The interaction and resume cookies are scoped to their interaction's path: `__Secure-`, as `__Host-` needs Path=/.
    names: {
      session: cookie.name(`atrium.${tenant.slug}.session`),
      interaction: cookie.name(`atrium.${tenant.slug}.interaction`, '/interaction/'),
      resume: cookie.name(`atrium.${tenant.slug}.resume`, '/auth/'),
    },
  };
}

/** What the tenant publishes about its service (`oidc.service_documentation`, `op_policy_uri`, `op_tos_uri`), added to discovery. */
function discoveryMetadata(tenant: Tenant): Record<string, string> {
  const oidc = mergedSection(tenant, 'oidc');
  const published: Record<string, string> = {};
  for (const key of ['service_documentation', 'op_policy_uri', 'op_tos_uri'] as const) if (typeof oidc[key] === 'string') published[key] = oidc[key];
  return published;
}

function providerFeatures(tenant: Tenant, api: ApiResourceServer, clientCredentials: boolean): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    // What lets `jwks` hold imported keys (TenantSigningKey) instead of private JWKs.
    externalSigningSupport: { enabled: true, ack: 'experimental-01' },
    // Off when the tenant switched the grant off (oidc.enabled_grants): gone from discovery, unsupported at the token endpoint.
    clientCredentials: { enabled: clientCredentials },
    introspection: { enabled: true },
    revocation: { enabled: true },
    // Clients registering backchannel_logout_uri get a logout token when a session ends:
    // by oidc-provider at end_session, by oidc/backchannel-logout.ts on every other path.
    backchannelLogout: { enabled: true },
    userinfo: { enabled: true },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        await renderProviderPage(ctx, tenant, 'logout', () => ({ title: 'logout.title', clientName: ctx.oidc.client?.clientName ?? '', form }));
      },
      async postLogoutSuccessSource(ctx) {
        await renderProviderPage(ctx, tenant, 'logged-out', () => ({ title: 'logout.signed_out_title', clientName: ctx.oidc.client?.clientName ?? '' }));
      },
    },
    resourceIndicators: {
      enabled: true,
      // Machine-to-machine tokens are JWTs for the management API unless another resource
      // is asked for: resource servers verify them locally, and nothing is stored per token.
      // The plain client_credentials request is answered before it reaches this Provider
      // (client-credentials-issuer.ts), which must issue what this configuration would:
      // change one, change both (test/client-credentials-issuer.test.ts compares them).
      defaultResource(ctx) {
        return ctx.oidc.params?.grant_type === 'client_credentials' ? api.audience : undefined;
      },
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, resource, client) {
        if (resource !== api.audience) throw new errors.InvalidTarget('unknown resource indicator');
        // oidc-provider does not check resource scopes against the client's registered
        // `scope`; without this any client could ask for platform scopes.
        const registered = new Set((client.scope ?? '').split(' '));
        return {
          scope: api.scopes.filter((s) => registered.has(s)).join(' '),
          audience: api.audience,
          accessTokenTTL: api.accessTokenTTL,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: api.alg } },
        };
      },
    },
  };
}

/** A page oidc-provider asks for (logout, error), branded and translated like every tenant page; `title` is a key. */
export async function renderProviderPage(ctx: KoaContextWithOIDC, tenant: Tenant, view: string, locals: (t: Translate) => Record<string, unknown> & { title: string }): Promise<void> {
  const page = pageLocals({ tenant, acceptLanguage: ctx.get('accept-language') });
  const own = locals(page.t);
  ctx.type = 'html';
  ctx.body = await renderPage(view, { ...page, ...own, title: page.t(own.title) });
}

