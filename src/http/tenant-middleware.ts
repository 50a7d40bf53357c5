/**
 * Resolves the tenant of a browser or OIDC request and enters it (its runtime on the
 * request, its id in the request context, which is what the storage layer reads); then
 * turns away suspended tenants. Two steps of the declared pipeline (pipeline.ts).
 */
import type { AtriumConfig } from '../config/env.ts';
import { AppError } from '../core/errors.ts';
import { headerStrategyEnabled, resolveTenant } from '../tenancy/resolve-tenant.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { requestHostOf } from '../tenancy/request-host.ts';
import type { TenantRuntimes } from '../runtime/tenant-runtime.ts';
import type { EdgeStep } from './edge.ts';

/** The tenant header's value as sent: undefined when absent, '' when empty; repeated headers stay one (invalid) value. */
export function tenantHeaderValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function tenantResolutionStep(config: AtriumConfig, registry: TenantRegistry, runtimes: TenantRuntimes): EdgeStep {
  const headerName = config.multiTenancy.tenantHeader;
  const varies = headerStrategyEnabled(config);
  return {
    name: 'tenant resolution',
    async before(edge) {
      // Set first, so that refusals vary too: a cache must not answer one header with another's 400.
      if (varies) edge.vary(headerName);
      const resolution = await resolveTenant({ host: requestHostOf(edge.req), header: tenantHeaderValue(edge.req.headers[headerName]) }, config, registry);
      if (resolution.kind === 'refused') throw new AppError(resolution.code, resolution.status, resolution.description);
      const fallback = resolution.via === 'fallback';
      if (fallback) edge.context.log?.warn({ host: edge.req.headers.host }, 'no tenant matched; using the default tenant (development only)');
      edge.enter(runtimes.for(resolution.tenant), { fallback });
      return undefined;
    },
  };
}

export function suspensionCheckStep(): EdgeStep {
  return {
    name: 'suspension check',
    before(edge) {
      if (edge.runtime?.tenant.status !== 'active') throw new AppError('tenant_suspended', 403, 'this organisation is suspended; contact its administrator');
      return undefined;
    },
  };
}
