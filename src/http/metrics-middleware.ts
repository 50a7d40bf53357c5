/**
 * Counts and times every request by tenant and route class: a finishing step of the declared
 * pipeline (pipeline.ts), so it sees the final status and the tenant the request ended up in
 * (resolved from the host, or the tenant the management API acted on).
 */
import type { Metrics, RouteClass } from '../core/metrics.ts';
import type { EdgeStep } from './edge.ts';

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

export function requestMetricsStep(metrics: Metrics): EdgeStep {
  return {
    name: 'request metrics',
    after(edge, status, startedAt) {
      const { context } = edge;
      metrics.recordRequest(context.tenantSlug, routeClassOf(edge.path), status, (performance.now() - startedAt) / 1000, context.databaseWork);
    },
  };
}
