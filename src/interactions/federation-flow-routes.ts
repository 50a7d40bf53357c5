/**
 * The browser's side of federated sign-in on a tenant's host:
 *   POST /interaction/:uid/federation/:name   a button of the login page (CSRF-checked): off to the upstream
 *   GET  /federation/callback                 the upstream answers here (the tenant's own redirect URI)
 *   GET  /federation/relayed                  ... or here, forwarded by the `_ops` relay
 * Failures are the branded error page with a correlation id, never a stack trace.
 */
import type { Context, Next } from 'koa';
import { errors } from 'oidc-provider';
import { readInteractionForm } from './interaction-context.ts';
import type { TenantRuntime } from '../oidc/provider-factory.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { FederationError, renderFederationError } from './federation-error.ts';
import type { FederatedSignIn } from './federated-sign-in.ts';
import type { Federation } from '../federation/federation.ts';
import { RELAYED_CALLBACK_PATH, TENANT_CALLBACK_PATH } from '../federation/redirect-uris.ts';
import { CONNECTION_NAME } from '../federation/connection-schema.ts';

const START = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/federation\/([^/]+)$/;

export interface FlowRouteDeps {
  federation: Federation;
  runtimeFor: (tenant: Tenant) => Promise<TenantRuntime>;
}

/**
 * Sends the browser of interaction `uid` to connection `name`. Used by the login page's
 * buttons and by home-realm discovery in the login form's handler (which has checked its
 * CSRF token already). Renders the error page itself when the sign-in cannot start.
 */
export async function startFederatedSignIn(ctx: Context, signIn: FederatedSignIn, uid: string, name: string, loginHint?: string): Promise<void> {
  try {
    const url = await signIn.begin(ctx, ctx.state.tenant, uid, name, { loginHint });
    ctx.status = 303;
    ctx.redirect(url);
  } catch (err) {
    if (err instanceof FederationError) return renderFederationError(ctx, err);
    throw err;
  }
}

export function federationFlowRoutes(deps: FlowRouteDeps) {
  async function start(ctx: Context, uid: string, name: string): Promise<void> {
    const tenant = ctx.state.tenant;
    const runtime = await deps.runtimeFor(tenant);
    await readInteractionForm(ctx, runtime, uid);
    // The interaction must be this browser's (its cookie is scoped to /interaction/<uid>) and still at the login prompt.
    let details;
    try {
      details = await runtime.provider.interactionDetails(ctx.req, ctx.res);
    } catch (err) {
      if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) return renderFederationError(ctx, new FederationError('interaction_expired', 400));
      throw err;
    }
    if (details.uid !== uid || details.prompt.name !== 'login') return renderFederationError(ctx, new FederationError('interaction_expired', 400));
    if (!CONNECTION_NAME.test(name)) return renderFederationError(ctx, new FederationError('connection_unavailable', 404, { provider: name.slice(0, 64) }));
    return startFederatedSignIn(ctx, deps.federation.signIn, uid, name);
  }

  async function callback(ctx: Context, road: 'tenant' | 'relay'): Promise<void> {
    const tenant = ctx.state.tenant;
    try {
      const returnTo = await deps.federation.signIn.complete(ctx, tenant, await deps.runtimeFor(tenant), road);
      ctx.status = 303;
      ctx.redirect(returnTo);
    } catch (err) {
      if (err instanceof FederationError) return renderFederationError(ctx, err);
      throw err;
    }
  }

  return async function federationFlow(ctx: Context, next: Next): Promise<void> {
    // For the login page's buttons and home-realm discovery (login-hooks.ts).
    ctx.state.federation = deps.federation;
    // GET only: a HEAD must not consume a pending sign-in.
    if (ctx.method === 'GET') {
      if (ctx.path === TENANT_CALLBACK_PATH) return callback(ctx, 'tenant');
      if (ctx.path === RELAYED_CALLBACK_PATH) return callback(ctx, 'relay');
      return next();
    }
    const m = ctx.method === 'POST' ? START.exec(ctx.path) : null;
    // Connection names are URL-safe as they are; anything else is simply not a connection.
    if (m) return start(ctx, m[1]!, m[2]!);
    return next();
  };
}
