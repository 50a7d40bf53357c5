/**
 * Counts and times every request by tenant and route class. Runs just inside the request
 * context and outside the error middleware, so it sees the final status and the tenant the
 * request ended up in (resolved from the host, or the tenant the management API acted on).
 */
import type { Context, Next } from 'koa';
import type { Metrics, RouteClass } from '../core/metrics.ts';

/**
 * The route class of a path: a few string checks, most frequent first. Paths are
 * oidc-provider's default routes (provider-factory.ts configures none); `/demo` pages count
 * as interaction pages.
 */
export function routeClassOf(path: string): RouteClass {
  if (path === '/token') return 'oidc-token';
  if (path.startsWith('/.well-known/')) return 'oidc-discovery';
  if (path === '/auth' || path.startsWith('/auth/')) return 'oidc-authorize';
  if (path === '/me') return 'oidc-userinfo';
  if (path.startsWith('/interaction/') || path === '/demo' || path.startsWith('/demo/')) return 'interaction';
  if (path.startsWith('/api/') || path === '/api') return 'api';
  if (path.startsWith('/assets/')) return 'assets';
  if (path === '/healthz' || path === '/readyz' || path === '/metrics') return 'ops';
  return 'oidc-other';
}

export function metricsMiddleware(metrics: Metrics) {
  return async function recordRequestMetrics(ctx: Context, next: Next): Promise<void> {
    const started = performance.now();
    await next();
    const context = ctx.state.context;
    metrics.recordRequest(context?.tenantSlug, routeClassOf(ctx.path), ctx.status, (performance.now() - started) / 1000);
  };
}
