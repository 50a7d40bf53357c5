/**
 * /platform/tenants/:slug/quotas: the limits the platform sets on a tenant, each shown with
 * what the tenant uses of it, and changed through the same QuotaService (validation, audit
 * in the tenant) as `PUT /api/v1/tenants/:slug/quotas`. An empty field is unlimited.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { QUOTA_MAX, QUOTA_NAMES } from '../../tenancy/quotas.ts';
import { parseQuotas } from '../../tenancy/quota-service.ts';
import type { Tenant } from '../../tenancy/tenant.ts';
import { formError, renderPlatformPage, requirePlatformAdmin, targetTenant, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

async function renderQuotas(deps: PlatformDeps, ctx: Context, admin: PlatformAdmin, tenant: Tenant, extra: { error?: string; values?: Record<string, string>; saved?: boolean } = {}): Promise<void> {
  const report = await deps.quotaService.report(tenant);
  const values = extra.values ?? Object.fromEntries(QUOTA_NAMES.map((n) => [n, report.quotas[n] === null ? '' : String(report.quotas[n])]));
  await renderPlatformPage(ctx, 'tenant-quotas', admin, (t) => ({
    title: 'platform.quotas_title',
    heading: t('platform.quotas_heading', { name: tenant.name }),
    tenant,
    names: QUOTA_NAMES,
    max: QUOTA_MAX,
    usage: report.usage,
    values,
    saved: extra.saved ?? false,
    error: extra.error,
  }));
}

/** A form field as a quota: empty is null (unlimited); anything else must be a number, or the service's 400 names the field. */
function formValue(raw: string): unknown {
  const text = raw.trim();
  if (text === '') return null;
  return /^-?\d+(\.\d+)?(e\d+)?$/i.test(text) ? Number(text) : text;
}

export function mountTenantQuotaRoutes(router: Router, deps: PlatformDeps): void {
  router.get('/tenants/:slug/quotas', async function showQuotas(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    await renderQuotas(deps, ctx, admin, await targetTenant(ctx, deps), { saved: ctx.query.done === 'saved' });
  });

  router.post('/tenants/:slug/quotas', async function saveQuotas(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const tenant = await targetTenant(ctx, deps);
    const form = await deps.consoleAuth.readForm(ctx, admin);
    const values = Object.fromEntries(QUOTA_NAMES.map((n) => [n, (form.get(n) ?? '').slice(0, 40)]));
    try {
      await deps.quotaService.set(tenant, parseQuotas(Object.fromEntries(QUOTA_NAMES.map((n) => [n, formValue(values[n]!)]))));
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      return renderQuotas(deps, ctx, admin, tenant, { error: error.message, values });
    }
    ctx.status = 303;
    ctx.redirect(`/platform/tenants/${tenant.slug}/quotas?done=saved`);
  });
}
