/**
 * The browser's side of federated sign-in on a tenant's host:
 *   POST /interaction/:uid/federation/:name   a button of the login page (CSRF-checked): off to the upstream
 *   GET  /federation/callback                 the upstream answers here (the tenant's own redirect URI)
 *   GET  /federation/relayed                  ... or here, forwarded by the `_ops` relay
 *   GET  <a connection's redirect_path>       ... or at the path the tenant registered upstream
 * and what the login page needs of it: the buttons of the tenant's enabled connections, and
 * home-realm discovery (an email whose domain belongs to a connection goes straight to that
 * upstream, before any password check).
 * Failures are the branded error page with a correlation id, never a stack trace.
 */
import type { Tenant } from '../tenancy/tenant.ts';
import type { Context, Next } from 'koa';
import { errors } from 'oidc-provider';
import { readInteractionForm } from './interaction-context.ts';
import { FederationError } from '../federation/federation-error.ts';
import { renderFederationError } from './federation-error-page.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { RELAYED_CALLBACK_PATH, TENANT_CALLBACK_PATH } from '../federation/redirect-uris.ts';
import { CONNECTION_NAME } from '../federation/connection-schema.ts';
import { SOCIAL_CALLBACK_PATH } from '../federation/redirect-uris.ts';
import { readForm } from '../web/body.ts';
import { couldBeRedirectPath } from '../federation/redirect-path.ts';

const START = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/federation\/([^/]+)$/;
const SOCIAL_START = /^\/interaction\/([A-Za-z0-9_-]{1,64})\/social\/([a-z]{1,16})$/;

type FlowDeps = Pick<InteractionDeps, 'federation' | 'federatedSignIn' | 'socialSignIn'>;

export interface FederationButton {
  name: string;
  displayName: string;
  /** Where the button's form posts (with the login form's CSRF token). */
  action: string;
}

/** The login page's buttons for interaction `uid`, one per enabled connection of the tenant in context. */
export async function federationButtons(deps: Pick<FlowDeps, 'federation'>, tenant: Tenant, uid: string): Promise<FederationButton[]> {
  return (await deps.federation.enabled(tenant)).map((c) => ({ name: c.name, displayName: c.settings.display_name, action: `/interaction/${encodeURIComponent(uid)}/federation/${c.name}` }));
}

/**
 * Home-realm discovery for a submitted sign-in form (its CSRF token already checked):
 * when the email's domain belongs to an enabled connection, answers the redirect to that
 * upstream (or its error page) and returns true; otherwise leaves ctx alone and returns false.
 */
export async function routeToHomeRealm(deps: FlowDeps, ctx: Context, uid: string, email: string): Promise<boolean> {
  const connection = email ? await deps.federation.forEmail(ctx.state.tenant, email) : undefined;
  if (!connection) return false;
  await startFederatedSignIn(deps, ctx, uid, connection.name, email);
  return true;
}

/**
 * Sends the browser of interaction `uid` to connection `name`. Used by the login page's
 * buttons and by home-realm discovery in the login form's handler (which has checked its
 * CSRF token already). Renders the error page itself when the sign-in cannot start.
 */
async function startFederatedSignIn(deps: FlowDeps, ctx: Context, uid: string, name: string, loginHint?: string): Promise<void> {
  try {
    const url = await deps.federatedSignIn.begin(ctx, ctx.state.tenant, uid, name, { loginHint });
    ctx.status = 303;
    ctx.redirect(url);
  } catch (err) {
    if (err instanceof FederationError) return renderFederationError(ctx, err);
    throw err;
  }
}

/** The interaction of a button's form, when it is this browser's and still at the login prompt; else the error page is sent. */
async function atLoginPrompt(ctx: Context, uid: string): Promise<boolean> {
  const runtime = await ctx.state.runtime.provider();
  await readInteractionForm(ctx, runtime, uid);
  try {
    const details = await runtime.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid === uid && details.prompt.name === 'login') return true;
  } catch (err) {
    if (!(err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest)) throw err;
  }
  await renderFederationError(ctx, new FederationError('interaction_expired', 400));
  return false;
}

/** A social button (features.social): off to the provider. */
async function startSocial(deps: FlowDeps, ctx: Context, uid: string, provider: string): Promise<void> {
  if (!(await atLoginPrompt(ctx, uid))) return;
  try {
    const url = await deps.socialSignIn.begin(ctx, ctx.state.tenant, uid, provider);
    ctx.status = 303;
    ctx.redirect(url);
  } catch (err) {
    if (err instanceof FederationError) return renderFederationError(ctx, err);
    throw err;
  }
}

async function socialCallback(deps: FlowDeps, ctx: Context): Promise<void> {
  try {
    const returnTo = await deps.socialSignIn.complete(ctx, ctx.state.tenant, await ctx.state.runtime.provider());
    ctx.status = 303;
    ctx.redirect(returnTo);
  } catch (err) {
    if (err instanceof FederationError) return renderFederationError(ctx, err);
    throw err;
  }
}

/**
 * Apple answers with a cross-site form post (response_mode=form_post), which a SameSite=Lax
 * cookie does not come with; the browser is sent on to the same path as a GET (which it
 * does come with), carrying only the response's parameters, so the callback checks the
 * browser like any other.
 */
async function socialFormPost(ctx: Context): Promise<void> {
  const form = await readForm(ctx);
  const target = new URL(SOCIAL_CALLBACK_PATH, 'http://x');
  for (const name of ['code', 'state', 'user', 'error']) {
    const value = form.get(name);
    if (value !== null) target.searchParams.set(name, value.slice(0, 4096));
  }
  ctx.status = 303;
  ctx.redirect(`${target.pathname}${target.search}`);
}

/** A button of the login page: the interaction must be this browser's and still at the login prompt. */
async function start(deps: FlowDeps, ctx: Context, uid: string, name: string): Promise<void> {
  const runtime = await ctx.state.runtime.provider();
  await readInteractionForm(ctx, runtime, uid);
  // The interaction cookie is scoped to /interaction/<uid>.
  let details;
  try {
    details = await runtime.provider.interactionDetails(ctx.req, ctx.res);
  } catch (err) {
    if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) return renderFederationError(ctx, new FederationError('interaction_expired', 400));
    throw err;
  }
  if (details.uid !== uid || details.prompt.name !== 'login') return renderFederationError(ctx, new FederationError('interaction_expired', 400));
  if (!CONNECTION_NAME.test(name)) return renderFederationError(ctx, new FederationError('connection_unavailable', 404, { provider: name.slice(0, 64) }));
  return startFederatedSignIn(deps, ctx, uid, name);
}

async function callback(deps: FlowDeps, ctx: Context, road: 'tenant' | 'relay'): Promise<void> {
  const tenant = ctx.state.tenant;
  try {
    const returnTo = await deps.federatedSignIn.complete(ctx, tenant, await ctx.state.runtime.provider(), road);
    ctx.status = 303;
    ctx.redirect(returnTo);
  } catch (err) {
    if (err instanceof FederationError) return renderFederationError(ctx, err);
    throw err;
  }
}

export function federationFlowRoutes(deps: FlowDeps) {
  return async function federationFlow(ctx: Context, next: Next): Promise<void> {
    // GET only: a HEAD must not consume a pending sign-in.
    if (ctx.method === 'GET') {
      if (ctx.path === TENANT_CALLBACK_PATH) return callback(deps, ctx, 'tenant');
      if (ctx.path === RELAYED_CALLBACK_PATH) return callback(deps, ctx, 'relay');
      if (ctx.path === SOCIAL_CALLBACK_PATH) return socialCallback(deps, ctx);
      // A connection's own redirect_path: known by a state signed for this tenant (an HMAC, no
      // lookup); the callback then insists on the path that sign-in was sent with.
      if (couldBeRedirectPath(ctx.path) && deps.federatedSignIn.signedFor(ctx.state.tenant, ctx.query.state)) return callback(deps, ctx, 'tenant');
      return next();
    }
    if (ctx.method === 'POST' && ctx.path === SOCIAL_CALLBACK_PATH) return socialFormPost(ctx);
    const social = ctx.method === 'POST' ? SOCIAL_START.exec(ctx.path) : null;
    if (social) return startSocial(deps, ctx, social[1]!, social[2]!);
    const m = ctx.method === 'POST' ? START.exec(ctx.path) : null;
    // Connection names are URL-safe as they are; anything else is simply not a connection.
    if (m) return start(deps, ctx, m[1]!, m[2]!);
    return next();
  };
}
