/**
 * The two doors of a connection's sign-out on a tenant's host:
 *   GET  /federation/:name/signed-out           back from the upstream's sign-out (federated-sign-out.ts)
 *   POST /federation/:name/backchannel-logout   the upstream's logout token (Back-Channel Logout 1.0):
 *                                               verified (federation/logout-token.ts), its jti noted
 *                                               once, and the sessions it names ended here, which in
 *                                               turn sends our own logout tokens to our relying parties.
 * A bad logout token is a 400 with `error` and `error_description` (section 2.8), never a page.
 */
import type { Context, Next } from 'koa';
import type { InteractionDeps } from './interaction-deps.ts';
import { CONNECTION_NAME } from '../federation/connection-schema.ts';
import { connectionUsable, describe } from '../federation/federation-service.ts';
import { LogoutTokenError } from '../federation/logout-token.ts';
import { readForm } from '../web/body.ts';
import { currentContext } from '../core/request-context.ts';
import { FederationError } from '../federation/federation-error.ts';
import { renderFederationError } from './federation-error-page.ts';

const SIGNED_OUT = /^\/federation\/([^/]+)\/signed-out$/;
const BACKCHANNEL = /^\/federation\/([^/]+)\/backchannel-logout$/;

type LogoutDeps = Pick<InteractionDeps, 'federatedSignOut' | 'logoutTokens' | 'flow' | 'userSessions' | 'audit'>;

function refuse(ctx: Context, status: number, error: string, description: string): void {
  ctx.status = status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { error, error_description: description, correlation_id: currentContext()?.correlationId };
}

async function backchannelLogout(deps: LogoutDeps, ctx: Context, name: string): Promise<void> {
  const tenant = ctx.state.tenant;
  const audit = (outcome: 'success' | 'failure', details: Record<string, unknown>) =>
    deps.audit.record({ action: 'federation.backchannel_logout', outcome, actor: null, target: name.slice(0, 64), ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { connection: name.slice(0, 64), ...details } });
  const connection = CONNECTION_NAME.test(name) ? await deps.flow.connections.get(name) : undefined;
  if (!connection || !connectionUsable(tenant, connection)) return refuse(ctx, 404, 'not_found', 'no such connection');
  if (!ctx.is('application/x-www-form-urlencoded')) return refuse(ctx, 400, 'invalid_request', 'the request must be application/x-www-form-urlencoded');
  const form = await readForm(ctx);
  const tokens = form.getAll('logout_token');
  if (tokens.length !== 1 || !tokens[0]) {
    await audit('failure', { reason: 'logout_token_missing' });
    return refuse(ctx, 400, 'invalid_request', 'logout_token is required, once');
  }
  let metadata;
  try {
    metadata = (await deps.flow.clients.configuration(tenant.id, connection, () => deps.flow.connections.secret(tenant.id, connection.name))).serverMetadata();
  } catch (err) {
    await audit('failure', { reason: 'upstream_unreachable', upstream: describe(err) });
    return refuse(ctx, 503, 'temporarily_unavailable', 'the upstream identity provider could not be reached to verify the logout token');
  }
  if (!metadata.jwks_uri) return refuse(ctx, 400, 'invalid_request', 'the upstream publishes no key set to verify logout tokens with');
  try {
    const claims = await deps.logoutTokens.verify(tokens[0], { issuer: metadata.issuer, audience: connection.settings.client_id, jwksUri: metadata.jwks_uri });
    if (!(await deps.flow.sessions.firstUse(connection.name, claims.jti, claims.acceptableUntil))) throw new LogoutTokenError('logout_token was used before (jti replayed)');
    const sessions = await deps.flow.sessions.named(connection.name, { sid: claims.sid, sub: claims.sid ? undefined : claims.sub });
    let ended = 0;
    for (const session of sessions) if (await deps.userSessions.revoke(session.userId, `signin:${session.sessionUid}`, { actor: null })) ended++;
    await deps.flow.sessions.forget(sessions.map((s) => s.sessionUid));
    await audit('success', { upstream_sid: claims.sid ?? null, upstream_sub: claims.sub ?? null, jti: claims.jti, sessions_ended: ended });
    ctx.status = 200;
    ctx.set('Cache-Control', 'no-store');
    ctx.body = '';
  } catch (err) {
    if (!(err instanceof LogoutTokenError)) throw err;
    await audit('failure', { reason: err.message });
    return refuse(ctx, 400, 'invalid_request', err.message);
  }
}

export function federationLogoutRoutes(deps: LogoutDeps) {
  return async function federationLogout(ctx: Context, next: Next): Promise<void> {
    const back = ctx.method === 'POST' ? BACKCHANNEL.exec(ctx.path) : null;
    if (back) return backchannelLogout(deps, ctx, back[1]!);
    const out = ctx.method === 'GET' ? SIGNED_OUT.exec(ctx.path) : null;
    if (!out) return next();
    if (!CONNECTION_NAME.test(out[1]!)) return renderFederationError(ctx, new FederationError('connection_unavailable', 404, { provider: out[1]!.slice(0, 64) }));
    return deps.federatedSignOut.returned(ctx, out[1]!);
  };
}
