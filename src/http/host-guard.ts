/**
 * Refuses a request whose Host this deployment does not serve (staging and production),
 * and a Host that is not a well-formed `hostname[:port]` (everywhere), before any route.
 *
 * Why: URLs are pinned to the tenant's issuer (oidc/issuer-origin.ts), so a hostile Host can
 * no longer write them; but a deployment answering for any name still lets a shared cache
 * or a confused proxy file Atrium's answers under someone else's host. Health probes are
 * the one exception: load balancers and orchestrators call them by address.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { isServedHost, parseRequestHost, requestHostOf, type RequestHost } from '../tenancy/request-host.ts';
import { AppError } from '../core/errors.ts';
import type { EdgeStep } from './edge.ts';

/** Answered on any host: liveness, readiness and the Prometheus scrape. */
export const PROBE_PATHS: ReadonlySet<string> = new Set(['/healthz', '/readyz', '/metrics']);

export type HostCheck = { ok: true; host: RequestHost } | { ok: false; error: AppError };

/** The one check, shared by the Koa stack and the provider fast path. */
export async function checkRequestHost(rawHost: string, config: AtriumConfig, registry: TenantRegistry): Promise<HostCheck> {
  const host = parseRequestHost(rawHost);
  // The value is never echoed: it is the attacker's text.
  if (!host) return { ok: false, error: new AppError('invalid_host', 400, 'the Host header is not a valid host name') };
  if (config.env !== 'development' && !(await isServedHost(host, config, registry))) {
    return { ok: false, error: new AppError('unknown_host', 400, 'this host is not served by this deployment') };
  }
  return { ok: true, host };
}

export function hostCheckStep(config: AtriumConfig, registry: TenantRegistry): EdgeStep {
  return {
    name: 'host check',
    async before(edge) {
      if (PROBE_PATHS.has(edge.path)) return undefined;
      const check = await checkRequestHost(requestHostOf(edge.req), config, registry);
      if (!check.ok) throw check.error;
      return undefined;
    },
  };
}
