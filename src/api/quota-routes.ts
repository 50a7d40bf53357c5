/**
 * /api/v1/tenants/:slug/quotas: the limits the platform sets on a tenant, with its usage.
 * Reading needs atrium:tenants:read (a tenant may read its own with atrium:tenant:read);
 * setting needs atrium:tenants:write on a *platform* token: a tenant never sets its own.
 * These routes are not counted against management_requests_per_minute, so a platform admin
 * can always raise a quota that is being hit.
 */
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import { readJson } from '../web/body.ts';
import { forbidden } from '../core/errors.ts';
import type { QuotaReport, QuotaService } from '../tenancy/quota-service.ts';
import { parseQuotas } from '../tenancy/quota-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { findTargetTenant } from './target-tenant.ts';

export interface QuotaRouteDeps {
  store: TenantStore;
  quotas: QuotaService;
}

export const quotaJson = (report: QuotaReport) => ({ quotas: report.quotas, usage: report.usage });

async function platformOnly(ctx: Context, next: Next): Promise<void> {
  if (ctx.state.principal?.tenant) throw forbidden('quotas are set by the platform: a tenant token cannot change them', 'insufficient_scope');
  await next();
}

export function mountQuotaRoutes(router: Router, deps: QuotaRouteDeps): void {
  router.get('/tenants/:slug/quotas', requireScope('atrium:tenants:read'), async function getQuotas(ctx) {
    ctx.body = quotaJson(await deps.quotas.report(await findTargetTenant(ctx, deps.store)));
  });
  router.put('/tenants/:slug/quotas', requireScope('atrium:tenants:write'), platformOnly, async function putQuotas(ctx) {
    const tenant = await findTargetTenant(ctx, deps.store);
    ctx.body = quotaJson(await deps.quotas.set(tenant, parseQuotas(await readJson(ctx))));
  });
}
