/**
 * The sign-in journey on a tenant's host, mounted by app.ts with one line after tenant
 * resolution: upstream IdPs (federation-flow-routes.ts), the second factor (mfa-routes.ts),
 * signup (signup-pages.ts), password reset and invitations (reset-pages.ts), then the login
 * and consent pages (interaction-routes.ts). Their paths do not overlap; each page gets the
 * same InteractionDeps. The `_ops` relay (federation-relay-routes.ts) runs before tenant
 * resolution and is mounted on its own.
 */
import type { Context, Middleware, Next } from 'koa';
import { federationFlowRoutes } from './federation-flow-routes.ts';
import { federationLogoutRoutes } from './federation-logout-routes.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { interactionRoutes } from './interaction-routes.ts';
import { mfaRoutes } from './mfa-routes.ts';
import { resetRoutes } from './reset-pages.ts';
import { signupRoutes } from './signup-pages.ts';

/** The journey's pages outside `/interaction/:uid/...`: links from mail and the forgot-password form. */
const LINK_PATHS = new Set(['/signup/verify', '/password/forgot', '/password/reset', '/invitation']);

/** Runs `steps` in order, each passing on to the next, the last to `next`. */
function inOrder(steps: Middleware[]): (ctx: Context, next: Next) => Promise<void> {
  return function run(ctx, next) {
    const step = (i: number): Promise<void> => (i === steps.length ? next() : Promise.resolve(steps[i]!(ctx, () => step(i + 1))).then(() => undefined));
    return step(0);
  };
}

export function signInJourney(deps: InteractionDeps) {
  const flow = federationFlowRoutes(deps);
  const logout = federationLogoutRoutes(deps);
  const federation = (ctx: Context, next: Next) => logout(ctx, () => flow(ctx, next));
  // @koa/router types its middleware for a RouterContext; it is this same object at run time.
  const pages = inOrder([mfaRoutes(deps), signupRoutes(deps), resetRoutes(deps), interactionRoutes(deps)].map((router) => router.routes() as Middleware));
  return function signInJourneyPages(ctx: Context, next: Next): Promise<void> {
    // Other requests (the Provider's endpoints, the console) skip the routers' matching.
    return federation(ctx, () => (ctx.path.startsWith('/interaction/') || LINK_PATHS.has(ctx.path) ? pages(ctx, next) : next()));
  };
}
