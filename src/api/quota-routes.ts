/**
 * /api/v1/tenants/:slug/quotas: the limits the platform sets on a tenant, with its usage.
 * Reading needs atrium:tenants:read (a tenant may read its own with atrium:tenant:read);
 * setting needs atrium:tenants:write on a *platform* token: a tenant never sets its own.
 * These routes are not counted against management_requests_per_minute, so a platform admin
 * can always raise a quota that is being hit.
 */
import { readJson } from '../web/body.ts';
import type { QuotaReport, QuotaService } from '../tenancy/quota-service.ts';
import { parseQuotas, quotasSchema } from '../tenancy/quota-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { findTargetTenant } from './target-tenant.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { quotaReportSchema } from './api-schemas.ts';

export interface QuotaRouteDeps {
  store: TenantStore;
  quotas: QuotaService;
}

export const quotaJson = (report: QuotaReport) => ({ quotas: report.quotas, usage: report.usage });

export const getQuotas = defineRoute({
  method: 'get', path: '/tenants/:slug/quotas', operationId: 'getTenantQuotas', tag: 'Quotas', summary: 'The tenant\'s quotas and usage',
  scope: 'atrium:tenants:read',
  responses: { 200: { description: 'Quotas (null: unlimited) and what is used.', schema: quotaReportSchema } },
});
export const putQuotas = defineRoute({
  method: 'put', path: '/tenants/:slug/quotas', operationId: 'putTenantQuotas', tag: 'Quotas', summary: 'Replace the tenant\'s quotas',
  description: 'A quota left out is unlimited. Platform tokens only: a tenant never sets its own.',
  scope: 'atrium:tenants:write', platformOnly: 'quotas are set by the platform: a tenant token cannot change them',
  serviceBody: quotasSchema,
  responses: { 200: { description: 'The quotas now in force, with usage.', schema: quotaReportSchema } },
});

export function mountQuotaRoutes(routes: ApiRoutes, deps: QuotaRouteDeps): void {
  routes.add(getQuotas, [], async function getQuotas(ctx) {
    ctx.body = quotaJson(await deps.quotas.report(await findTargetTenant(ctx, deps.store)));
  });
  routes.add(putQuotas, [], async function putQuotas(ctx) {
    const tenant = await findTargetTenant(ctx, deps.store);
    ctx.body = quotaJson(await deps.quotas.set(tenant, parseQuotas(await readJson(ctx))));
  });
}
