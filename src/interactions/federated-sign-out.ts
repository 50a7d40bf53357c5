/**
 * Sign-out that reaches the upstream a session came from:
 *
 *   leave     after the local sign-out (RP-initiated logout, /account), the session's upstream
 *             sign-in is taken out and the browser is sent to the upstream's end-session
 *             endpoint in its own shape (federation/upstream-logout.ts), to come back to the
 *             connection's return route. Where the browser was going next (the relying
 *             party's post_logout_redirect_uri with its state, or Atrium's page) rides in a
 *             sealed, short-lived cookie: Auth0 and Cognito return no state.
 *   returned  GET /federation/:name/signed-out: the cookie is opened, checked against the
 *             tenant and the connection, cleared, and the browser sent on. An upstream
 *             without end-session comes straight here, and the page says the upstream
 *             session remains.
 */
import type { Context } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { cookieRule } from '../core/cookie-rule.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerUrl } from '../tenancy/tenant.ts';
import type { FederationFlowParts } from '../federation/federation.ts';
import { describe } from '../federation/federation-service.ts';
import { signedOutPath, upstreamLogoutUrl } from '../federation/upstream-logout.ts';
import { IssuerCookie } from '../web/issuer-cookie.ts';
import { renderTenantPage } from '../web/page.ts';
import { currentContext } from '../core/request-context.ts';

/** Long enough for an upstream's sign-out page, short enough that a stale cookie sends nobody anywhere. */
const RETURN_TTL_SECONDS = 600;
const PURPOSE = 'federation-signout';

interface Carried {
  /** tenant id, connection name, where next, expiry (epoch ms), whether the upstream was left signed in */
  t: string;
  c: string;
  then: string;
  exp: number;
  local: boolean;
}

export type FederatedSignOutDeps = Pick<FederationFlowParts, 'sessions' | 'connections' | 'clients'> & { config: AtriumConfig; box: SecretBox; audit: AuditLog };

/** A Koa context: the app's or oidc-provider's own (which has no `ctx.state.runtime`). */
type AnyContext = Pick<Context, 'cookies' | 'ip' | 'get'>;

const cookieOf = (tenant: Tenant, issuer: string) => new IssuerCookie(cookieRule(issuer), `atrium.${tenant.slug}.${PURPOSE}`, { path: '/federation/' });
const sealContext = (tenantId: string) => `${PURPOSE}:${tenantId}`;

export class FederatedSignOut {
  readonly #deps: FederatedSignOutDeps;
  constructor(deps: FederatedSignOutDeps) {
    this.#deps = deps;
  }

  /**
   * After session `sessionUid` of `tenant` ended here: where to send the browser instead of
   * `then` (undefined: the session did not come from an upstream, go to `then`).
   */
  async leave(ctx: AnyContext, tenant: Tenant, issuer: string, session: { uid: string; accountId: string | null }, then: string): Promise<string | undefined> {
    const { sessions, connections, config, box, audit } = this.#deps;
    const upstream = await sessions.take(tenant.id, session.uid);
    if (!upstream) return undefined;
    const connection = await connections.get(upstream.connectionName);
    const endpoint = connection ? await this.#endSessionEndpoint(tenant, connection) : null;
    const returnTo = issuerUrl(tenant, config, signedOutPath(upstream.connectionName)).href;
    const carried: Carried = { t: tenant.id, c: upstream.connectionName, then, exp: Date.now() + RETURN_TTL_SECONDS * 1000, local: !endpoint };
    cookieOf(tenant, issuer).set(ctx as Context, box.seal(JSON.stringify(carried), sealContext(tenant.id)), RETURN_TTL_SECONDS * 1000);
    await audit.record({
      action: 'federation.sign_out',
      actor: session.accountId,
      target: session.accountId,
      ip: ctx.ip,
      userAgent: ctx.get('user-agent'),
      details: { connection: upstream.connectionName, upstream: endpoint ? 'redirected' : 'local_only', upstream_sid: upstream.upstreamSid },
    });
    if (!endpoint || !connection) return returnTo;
    const param = connection.settings.post_logout_return_param;
    return upstreamLogoutUrl({ endpoint, param, clientId: connection.settings.client_id, idToken: upstream.idToken, returnTo }).href;
  }

  /** GET /federation/:name/signed-out: back from the upstream (or straight here when it has no end-session). */
  async returned(ctx: Context, name: string): Promise<void> {
    const tenant = ctx.state.tenant;
    const cookie = IssuerCookie.ofTenant(ctx, PURPOSE, { path: '/federation/' });
    const carried = this.#open(tenant, cookie.get(ctx));
    cookie.clear(ctx);
    ctx.set('Cache-Control', 'no-store');
    const valid = carried && carried.c === name && carried.exp > Date.now();
    await this.#deps.audit.record({ action: 'federation.sign_out_returned', outcome: valid ? 'success' : 'failure', actor: null, target: name, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { connection: name.slice(0, 64), ...(valid ? { upstream: carried.local ? 'local_only' : 'signed_out' } : { reason: carried ? 'mismatch_or_expired' : 'no_sign_out_in_progress' }) } });
    if (valid && !carried.local) {
      ctx.status = 303;
      ctx.redirect(carried.then);
      return;
    }
    const connection = valid ? await this.#deps.connections.get(name) : undefined;
    await renderTenantPage(ctx, 'federation-signed-out', (t) => ({
      title: 'logout.signed_out_title',
      upstreamKept: valid ? t('federation.signed_out_upstream_kept', { provider: connection?.settings.display_name ?? name }) : '',
      next: valid ? carried.then : null,
    }));
  }

  #open(tenant: Tenant, value: string | undefined): Carried | undefined {
    if (!value || value.length > 8192) return undefined;
    try {
      const carried = JSON.parse(this.#deps.box.open(value, sealContext(tenant.id))) as Carried;
      return carried.t === tenant.id ? carried : undefined;
    } catch {
      return undefined;
    }
  }

  /** The connection's own end-session endpoint (a preset's, or given), else its discovery document's; null: none. */
  async #endSessionEndpoint(tenant: Tenant, connection: NonNullable<Awaited<ReturnType<FederationFlowParts['connections']['get']>>>): Promise<string | null> {
    if (connection.settings.end_session_endpoint) return connection.settings.end_session_endpoint;
    try {
      const configuration = await this.#deps.clients.configuration(tenant.id, connection, () => this.#deps.connections.secret(tenant.id, connection.name));
      return configuration.serverMetadata().end_session_endpoint ?? null;
    } catch (err) {
      // The upstream cannot be reached: sign out here, and say the upstream session may remain.
      currentContext()?.log?.warn({ connection: connection.name, upstream: describe(err) }, 'upstream discovery failed at sign-out');
      return null;
    }
  }
}
