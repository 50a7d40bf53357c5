/**
 * Loads the tenant named in `/tenants/:slug` and makes it the tenant of the request
 * context, so everything below runs under that tenant's row-level security. This is the
 * platform's explicit step into one tenant; it runs after the scope check, so a caller
 * without the scope cannot probe which tenants exist.
 */
import type { Context, Next } from 'koa';
import { notFound } from '../core/errors.ts';
import { SLUG_PATTERN, DEFAULT_TENANT, PLATFORM_TENANT } from '../tenancy/slug.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';

/** The tenant named by `:slug` (also for /platform's pages); a slug no tenant could have is simply not found. */
export async function findTargetTenant(ctx: Context, store: TenantStore): Promise<Tenant> {
  const slug = String(ctx.params.slug ?? '');
  const valid = SLUG_PATTERN.test(slug) || slug === PLATFORM_TENANT || slug === DEFAULT_TENANT;
  const tenant = valid ? await store.findBySlug(slug) : undefined;
  if (!tenant) throw notFound(`no tenant with slug "${slug.slice(0, 64)}"`);
  return tenant;
}

export function targetTenant(store: TenantStore) {
  return async function loadTargetTenant(ctx: Context, next: Next): Promise<void> {
    const tenant = await findTargetTenant(ctx, store);
    ctx.state.target = tenant;
    const context = ctx.state.context;
    context.enterTenant(tenant);
    await ctx.state.tenantGate?.(tenant);
    context.log?.debug({ principal: ctx.state.principal?.clientId }, 'platform API acting on tenant');
    await next();
  };
}
