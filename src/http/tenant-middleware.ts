/**
 * Resolves the tenant of a browser or OIDC request, puts it in the request context (which
 * is what the storage layer reads) and turns away suspended tenants.
 */
import type { Context, Next } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import { AppError } from './errors.ts';
import { resolveTenant } from '../tenancy/resolve-tenant.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import type { RequestContext } from '../tenancy/request-context.ts';

export function tenantMiddleware(config: AtriumConfig, registry: TenantRegistry) {
  return async function resolveTenantMiddleware(ctx: Context, next: Next): Promise<void> {
    const resolution = await resolveTenant({ host: ctx.host, headerSlug: ctx.get(config.multiTenancy.tenantHeader) || undefined }, config, registry);
    if (resolution.kind === 'unresolved') throw new AppError('unknown_tenant', config.env === 'development' ? 404 : 400, 'no tenant is served at this address');
    const { tenant } = resolution;
    const context = ctx.state.context as RequestContext;
    if (resolution.via === 'fallback') context.log?.warn({ host: ctx.host }, 'no tenant matched; using the default tenant (development only)');
    if (tenant.status !== 'active') throw new AppError('tenant_suspended', 403, 'this organisation is suspended; contact its administrator');
    context.enterTenant(tenant);
    ctx.state.tenant = tenant;
    await next();
  };
}
