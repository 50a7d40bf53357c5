/**
 * Resolves the tenant of a browser or OIDC request, puts it in the request context (which
 * is what the storage layer reads) and turns away suspended tenants.
 */
import type { Context, Next } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import { AppError } from '../core/errors.ts';
import { headerStrategyEnabled, resolveTenant } from '../tenancy/resolve-tenant.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { requestHostOf } from '../tenancy/request-host.ts';
import type { TenantRuntimes } from '../runtime/tenant-runtime.ts';
import { enterTenant } from '../web/enter-tenant.ts';

/** The tenant header's value as sent: undefined when absent, '' when empty; repeated headers stay one (invalid) value. */
export function tenantHeaderValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

export function tenantMiddleware(config: AtriumConfig, registry: TenantRegistry, runtimes: TenantRuntimes) {
  const headerName = config.multiTenancy.tenantHeader;
  const varies = headerStrategyEnabled(config);
  return async function resolveTenantMiddleware(ctx: Context, next: Next): Promise<void> {
    // Set first, so that refusals vary too: a cache must not answer one header with another's 400.
    if (varies) ctx.vary(headerName);
    const resolution = await resolveTenant({ host: requestHostOf(ctx.req), header: tenantHeaderValue(ctx.req.headers[headerName]) }, config, registry);
    if (resolution.kind === 'refused') throw new AppError(resolution.code, resolution.status, resolution.description);
    const { tenant } = resolution;
    const context = ctx.state.context;
    if (resolution.via === 'fallback') context.log?.warn({ host: ctx.host }, 'no tenant matched; using the default tenant (development only)');
    if (tenant.status !== 'active') throw new AppError('tenant_suspended', 403, 'this organisation is suspended; contact its administrator');
    enterTenant(ctx, runtimes.for(tenant));
    await next();
  };
}
