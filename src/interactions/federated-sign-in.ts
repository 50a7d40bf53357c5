/**
 * Sign-in through a tenant's upstream identity provider, from the login page to the
 * completed oidc-provider interaction:
 *
 *   begin     a pending sign-in row (nonce, sealed PKCE verifier, redirect URI, browser hash)
 *             under a signed, expiring `state`; the browser gets a per-tenant cookie whose
 *             secret's hash is in the row; then off to the upstream's authorization endpoint.
 *   complete  the callback: the state's MAC, tenant and expiry; the row taken out (once);
 *             the browser's cookie; the road it came back by; the upstream's answer; the code
 *             exchanged with PKCE and the ID token validated by openid-client (signature,
 *             issuer, audience, expiry, nonce); the email domain; then the user, and the
 *             interaction's login result.
 */
import { connectionUsable } from '../federation/federation-service.ts';
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import * as oidc from 'openid-client';
import type { AtriumConfig } from '../config/env.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { StoredConnection } from '../federation/connection-store.ts';
import { FederationError } from '../federation/federation-error.ts';
import type { FederationFlowParts } from '../federation/federation.ts';
import type { UpstreamToken } from '../federation/federated-session-store.ts';
import { IssuerCookie } from '../web/issuer-cookie.ts';
import { describe, upstreamErrorCode } from '../federation/federation-service.ts';
import { browserHash } from '../federation/login-state-store.ts';
import { mapClaims } from '../federation/provisioning.ts';
import { claimAt } from '../federation/claim-paths.ts';
import { redirectUris, withinRedirectGrace } from '../federation/redirect-uris.ts';
import { mintState, verifyState } from '../federation/signed-state.ts';
import { pendingAfterFederation, secondFactorDue } from '../mfa/second-factor.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import { tokenLifetimes } from '../oidc/token-lifetimes.ts';
import { currentContext } from '../core/request-context.ts';

export interface FederatedSignInDeps extends FederationFlowParts {
  config: AtriumConfig;
  box: SecretBox;
  audit: AuditLog;
  /** The tenant's MFA rules apply after an upstream sign-in too (mfa/second-factor.ts). */
  mfa: Pick<MfaService, 'status'>;
}

/** The road a callback came back by: straight to the tenant's host, or through the `_ops` relay. */
export type CallbackRoad = 'tenant' | 'relay';

const BROWSER_SECRET = /^[A-Za-z0-9_-]{43}$/;
/** Parameters of an authorization response; nothing else is read from (or relayed with) a callback. */
const CALLBACK_PARAMS = ['code', 'state', 'iss', 'error', 'error_description', 'error_uri'] as const;

/** `url` with the authorization response's parameters of a callback's query (single values only), and nothing else. */
export function withCallbackParams(url: string, query: Context['query']): URL {
  const target = new URL(url);
  for (const name of CALLBACK_PARAMS) {
    const value = query[name];
    if (typeof value === 'string') target.searchParams.set(name, value);
  }
  return target;
}

/**
 * Scoped to /federation/, or to the connection's own `redirect_path` (so `__Secure-`, not
 * `__Host-`, on an https issuer: core/cookie-rule.ts): sent only to the callback.
 */
export const browserCookie = (ctx: Context, redirectPath: string | null = null) => IssuerCookie.ofTenant(ctx, 'federation', { path: redirectPath ?? '/federation/' });
const epochTime = () => Math.floor(Date.now() / 1000);

export class FederatedSignIn {
  readonly #deps: FederatedSignInDeps;
  constructor(deps: FederatedSignInDeps) {
    this.#deps = deps;
  }

  /** Prepares the upstream sign-in for interaction `interactionUid` and answers the URL to send the browser to. */
  async begin(ctx: Context, tenant: Tenant, interactionUid: string, connectionName: string, options: { loginHint?: string } = {}): Promise<string> {
    const { config, box } = this.#deps;
    const connection = await this.#deps.connections.get(connectionName);
    if (!connection || !connectionUsable(tenant, connection)) throw new FederationError('connection_unavailable', 404, { provider: connection?.settings.display_name ?? connectionName }, { connection: connectionName });
    const provider = connection.settings.display_name;
    const configuration = await this.#configuration(tenant, connection);
    const { state, stateId, expiresAt } = mintState(box, tenant.id, config.oidcStateTtlSeconds);
    const nonce = oidc.randomNonce();
    const codeVerifier = oidc.randomPKCECodeVerifier();
    const uris = redirectUris(tenant, config, connection.settings.redirect_path);
    const redirectUri = connection.settings.use_relay ? uris.relay : uris.tenant;
    const secret = this.#browserSecret(ctx, connection.settings.use_relay ? null : connection.settings.redirect_path);
    await this.#deps.states.save(tenant.id, { stateId, connectionName: connection.name, interactionUid, nonce, codeVerifier, redirectUri, browserHash: browserHash(secret), expiresAt });
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: connection.settings.scopes,
      response_type: 'code',
      state,
      nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
      code_challenge_method: 'S256',
      ...(options.loginHint ? { login_hint: options.loginHint } : {}),
    });
    await this.#deps.audit.record({
      action: 'federation.sign_in_started',
      actor: null,
      target: connection.name,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent'),
      details: { connection: connection.name, provider, relay: connection.settings.use_relay, home_realm: Boolean(options.loginHint) },
    });
    return url.href;
  }

  /** Whether `state` is one this deployment signed for `tenant` (a callback at a connection's own redirect_path is known by it). */
  signedFor(tenant: Tenant, state: unknown): boolean {
    return verifyState(this.#deps.box, state)?.tenantId === tenant.id;
  }

  /** Completes the sign-in a callback answers; returns where oidc-provider resumes the authorization. */
  async complete(ctx: Context, tenant: Tenant, runtime: ProviderRuntime, road: CallbackRoad): Promise<string> {
    const audit = { ip: ctx.ip, userAgent: ctx.get('user-agent') };
    let connectionName: string | null = null;
    try {
      const verified = verifyState(this.#deps.box, ctx.query.state);
      if (!verified || verified.tenantId !== tenant.id) throw new FederationError('state_invalid', 400);
      if (verified.expired) throw new FederationError('state_expired', 400, {}, { expired_at: verified.expiresAt.toISOString() });
      const pending = await this.#deps.states.take(tenant.id, verified.stateId);
      if (!pending) throw new FederationError('state_used', 400);
      connectionName = pending.connectionName;
      const connection = await this.#deps.connections.get(pending.connectionName);
      if (!connection || !connectionUsable(tenant, connection)) throw new FederationError('connection_unavailable', 400, { provider: connection?.settings.display_name ?? pending.connectionName });
      const provider = connection.settings.display_name;
      const redirectPath = road === 'relay' ? null : connection.settings.redirect_path;
      const secret = browserCookie(ctx, redirectPath).get(ctx);
      if (!secret || browserHash(secret) !== pending.browserHash) throw new FederationError('browser_mismatch', 400);
      const grace = this.#checkRedirectUri(ctx, tenant, pending.redirectUri, redirectPath, road, provider);
      const upstreamError = typeof ctx.query.error === 'string' ? ctx.query.error : undefined;
      if (upstreamError) {
        const reason = upstreamError.replace(/[^\w.-]/g, '').slice(0, 64) || 'error';
        const description = typeof ctx.query.error_description === 'string' ? ctx.query.error_description.slice(0, 300) : undefined;
        throw new FederationError('upstream_error', 400, { provider, reason }, { upstream_error: reason, upstream_error_description: description });
      }
      const configuration = await this.#configuration(tenant, connection);
      const { claims, idToken, upstreamToken } = await this.#redeem(configuration, connection, pending, ctx);
      const mapped = mapClaims(claims, connection.settings.claims_mapping);
      // Names only: the values are the upstream's personal data, and failed their checks.
      if (mapped.dropped?.length) currentContext()?.log?.warn({ connection: connection.name, dropped_claims: mapped.dropped }, 'upstream claims failed their checks and were dropped');
      const allowed = connection.settings.allowed_domains;
      const domain = mapped.email?.slice(mapped.email.lastIndexOf('@') + 1);
      if (allowed.length > 0 && (!domain || !allowed.includes(domain))) {
        throw new FederationError('domain_not_allowed', 403, { provider, domain: domain ?? '?' }, { issuer: mapped.issuer, subject: mapped.subject, email_domain: domain ?? null });
      }
      const { user, outcome } = await this.#deps.provisioning.userFor(mapped, { connectionName: connection.name, displayName: provider, linkByVerifiedEmail: connection.settings.link_by_verified_email, roleMapping: connection.settings.role_mapping, audit });
      const interaction = await runtime.provider.Interaction.find(pending.interactionUid);
      if (!interaction) throw new FederationError('interaction_expired', 400);
      // What provider.interactionResult does, by uid: the interaction cookie is scoped to
      // /interaction/<uid>, which an upstream's callback is not under.
      // The tenant's MFA rules apply to upstream sign-ins too: when a second factor is due,
      // the sign-in is parked for the MFA step (interactions/mfa-routes.ts) instead of finished.
      const mfaDue = await secondFactorDue(this.#deps.mfa, tenant, user, interaction.params);
      interaction.result = mfaDue ? pendingAfterFederation(user.id) : { login: { accountId: user.id, amr: ['fed'] } };
      await interaction.save(interaction.exp - epochTime());
      // Kept for the sign-out (the hint) and for the upstream's logout tokens (its sid and sub).
      const upstream = { upstreamIssuer: String(claims.iss), upstreamSub: String(claims.sub), upstreamSid: typeof claims.sid === 'string' ? claims.sid : null };
      // With introspection, the upstream token is kept too, for as long as a refresh token may come back with it.
      const introspected = connection.settings.introspection_endpoint && upstreamToken ? { upstreamToken } : {};
      const lifetimes = tokenLifetimes(tenant);
      const keep = introspected.upstreamToken ? Math.max(lifetimes.session, lifetimes.refreshToken) : lifetimes.session;
      await this.#deps.sessions.record(tenant.id, { interactionUid: interaction.uid, userId: user.id, connectionName: connection.name, ...upstream, idToken, ...introspected }, keep);
      await this.#deps.audit.record({
        action: 'federation.sign_in',
        actor: user.id,
        target: user.id,
        ...audit,
        details: { connection: connection.name, issuer: mapped.issuer, subject: mapped.subject, outcome, client_id: interaction.params.client_id, road, second_factor: mfaDue, ...(grace ? { redirect_grace: true } : {}), ...(mapped.unmapped.length ? { unmapped_claims: mapped.unmapped } : {}), ...(mapped.dropped?.length ? { dropped_claims: mapped.dropped } : {}) },
      });
      return mfaDue ? new URL(`/interaction/${encodeURIComponent(interaction.uid)}/mfa`, interaction.returnTo).href : interaction.returnTo;
    } catch (err) {
      if (err instanceof FederationError) {
        await this.#deps.audit.record({ action: 'federation.sign_in', outcome: 'failure', actor: null, target: connectionName, ...audit, details: { reason: err.code, road, ...err.details } });
      }
      throw err;
    }
  }

  /** Exchanges the code (PKCE) and validates the ID token; adds userinfo claims the ID token lacks. */
  async #redeem(configuration: oidc.Configuration, connection: StoredConnection, pending: { nonce: string; codeVerifier: string; redirectUri: string }, ctx: Context): Promise<{ claims: Record<string, unknown>; idToken: string; upstreamToken?: UpstreamToken }> {
    const provider = connection.settings.display_name;
    // The URL the upstream answered to: the redirect URI used, with the response parameters.
    const currentUrl = withCallbackParams(pending.redirectUri, ctx.query);
    let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>;
    try {
      tokens = await oidc.authorizationCodeGrant(configuration, currentUrl, {
        pkceCodeVerifier: pending.codeVerifier,
        expectedState: String(ctx.query.state),
        expectedNonce: pending.nonce,
        idTokenExpected: true,
      });
    } catch (err) {
      throw this.#upstreamFailure(err, provider, pending.redirectUri);
    }
    const claims: Record<string, unknown> = { ...tokens.claims()! };
    const mapping = connection.settings.claims_mapping;
    const lacking = Object.values(mapping).some((path) => path !== undefined && claimAt(claims, path) === undefined);
    if (lacking && configuration.serverMetadata().userinfo_endpoint && tokens.access_token) {
      try {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, String(claims.sub));
        // The ID token's own claims win; userinfo only fills gaps.
        for (const [k, v] of Object.entries(info)) if (claims[k] === undefined) claims[k] = v;
      } catch (err) {
        throw this.#upstreamFailure(err, provider, pending.redirectUri);
      }
    }
    // What introspection asks about at each refresh: the refresh token outlives the access token, so it is preferred.
    const upstreamToken: UpstreamToken | undefined = tokens.refresh_token ? { kind: 'refresh_token', value: tokens.refresh_token } : tokens.access_token ? { kind: 'access_token', value: tokens.access_token } : undefined;
    return { claims, idToken: tokens.id_token!, ...(upstreamToken ? { upstreamToken } : {}) };
  }

  /**
   * The road and the redirect URI a callback came back by: the URI the sign-in was sent with
   * must be the connection's current one, or the one of the origin the tenant has just left
   * (redirect grace period: answers true); and a tenant callback must have come in at that
   * URI's path (a custom `redirect_path` is found by its state, not by a fixed route).
   */
  #checkRedirectUri(ctx: Context, tenant: Tenant, sentWith: string, redirectPath: string | null, road: CallbackRoad, provider: string): boolean {
    const uris = redirectUris(tenant, this.#deps.config, redirectPath);
    const mismatch = () => new FederationError('redirect_uri_mismatch', 400, { provider, redirect_uri: sentWith }, { arrived_via: road });
    if (road === 'tenant' && ctx.path !== new URL(sentWith).pathname) throw mismatch();
    if (sentWith === (road === 'relay' ? uris.relay : uris.tenant)) return false;
    if (road === 'tenant' && withinRedirectGrace(tenant, this.#deps.config, redirectPath, sentWith)) return true;
    throw mismatch();
  }

  #upstreamFailure(err: unknown, provider: string, redirectUri: string): FederationError {
    const detail = { upstream: describe(err) };
    const code = upstreamErrorCode(err);
    if (code) {
      const description = err instanceof oidc.ResponseBodyError ? (err.error_description ?? '') : '';
      if (code === 'invalid_grant' && /redirect_uri/i.test(description)) return new FederationError('redirect_uri_mismatch', 400, { provider, redirect_uri: redirectUri }, detail);
      return new FederationError('upstream_error', 400, { provider, reason: code.replace(/[^\w.-]/g, '').slice(0, 64) }, detail);
    }
    if (isNetworkFailure(err)) return new FederationError('upstream_unreachable', 400, { provider }, detail, { cause: err });
    // openid-client's own checks: signature, issuer, audience, expiry, nonce, state, iss parameter.
    return new FederationError('token_invalid', 400, { provider }, detail, { cause: err });
  }

  async #configuration(tenant: Tenant, connection: StoredConnection): Promise<oidc.Configuration> {
    try {
      return await this.#deps.clients.configuration(tenant.id, connection, () => this.#deps.connections.secret(tenant.id, connection.name));
    } catch (err) {
      throw new FederationError('upstream_unreachable', 400, { provider: connection.settings.display_name }, { connection: connection.name, upstream: describe(err) }, { cause: err });
    }
  }

  /** The browser's federation secret for this tenant: kept while it lasts, so sign-ins in two tabs do not undo each other. */
  #browserSecret(ctx: Context, redirectPath: string | null): string {
    const cookie = browserCookie(ctx, redirectPath);
    const existing = cookie.get(ctx);
    const secret = existing && BROWSER_SECRET.test(existing) ? existing : randomBytes(32).toString('base64url');
    cookie.set(ctx, secret, this.#deps.config.oidcStateTtlSeconds * 1000);
    return secret;
  }
}

function isNetworkFailure(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return true;
  const code = (err as { code?: string }).code ?? (err.cause as { code?: string } | undefined)?.code;
  return (err instanceof TypeError && /fetch failed/i.test(err.message)) || (typeof code === 'string' && /^(ECONN|ENOTFOUND|EAI_|ETIMEDOUT|UND_ERR)/.test(code));
}
