/**
 * The one declared list of steps every request to a tenant passes, whichever stack serves
 * it: the Koa app (app.ts, through koa-edge.ts) and the provider fast path
 * (provider-fast-path.ts) both build from it, so neither can drift from the other.
 *
 *   edge       security headers, the Host check           every request, before any route
 *   tenant     tenant resolution, the suspension check    before a tenant's pages and endpoints
 *   provider   the token endpoint's rate limits           before the tenant's Provider
 *   finish     request metrics, the access line           once answered, whoever answered
 *
 * Between `edge` and `tenant` the Koa app mounts the routes that need no tenant (static
 * files, probes, /metrics, the federation relay, /api/v1), and between `tenant` and
 * `provider` the console and the sign-in journey. None of them claims a path the fast path
 * serves (provider-fast-path.ts `fastRouteOf`), which is what lets the fast path run the
 * groups back to back; test/provider-fast-path.test.ts holds both stacks to the same answers.
 */
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import type { Metrics } from '../core/metrics.ts';
import type { TenantRuntimes } from '../runtime/tenant-runtime.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import type { EdgeStep } from './edge.ts';
import { hostCheckStep } from './host-guard.ts';
import { requestMetricsStep } from './metrics-middleware.ts';
import { tokenRateLimitStep } from './rate-limit-token-endpoint.ts';
import { accessLogStep } from './request-context-middleware.ts';
import { securityHeadersStep } from './security-headers.ts';
import { suspensionCheckStep, tenantResolutionStep } from './tenant-middleware.ts';

export interface Pipeline {
  readonly edge: readonly EdgeStep[];
  readonly tenant: readonly EdgeStep[];
  readonly provider: readonly EdgeStep[];
  readonly finish: readonly EdgeStep[];
}

export interface PipelineDeps {
  config: AtriumConfig;
  registry: TenantRegistry;
  runtimes: TenantRuntimes;
  rateLimiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
}

export function declarePipeline({ config, registry, runtimes, rateLimiter, metrics, log }: PipelineDeps): Pipeline {
  return {
    edge: [securityHeadersStep({ hsts: config.publicUrl.protocol === 'https:' }), hostCheckStep(config, registry)],
    tenant: [tenantResolutionStep(config, registry, runtimes), suspensionCheckStep()],
    provider: [tokenRateLimitStep(rateLimiter, config.rateLimitsEnabled, (tenant, limit) => metrics.rateLimitRejections.inc({ tenant: tenant.slug, limit }))],
    finish: [requestMetricsStep(metrics), accessLogStep(log)],
  };
}
