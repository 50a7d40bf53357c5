/** /platform: the tenants, searched and paged, and the form that creates one. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest } from '../../core/errors.ts';
import { SLUG_PATTERN } from '../../tenancy/slug.ts';
import { issuerFor } from '../../tenancy/tenant.ts';
import { formError, pageNumber, pager, renderPlatformPage, requirePlatformAdmin, searchTerm, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

const TENANTS_PAGE_SIZE = 20;

export function mountTenantListRoutes(router: Router, deps: PlatformDeps): void {
  router.get('/', async function listTenants(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const search = searchTerm(ctx.query.q);
    const page = pageNumber(ctx.query.page);
    const { tenants, total } = await deps.tenantStore.list({ limit: TENANTS_PAGE_SIZE, offset: (page - 1) * TENANTS_PAGE_SIZE, search: search || undefined });
    // Only a slug is echoed back: the notice cannot be made to say anything else.
    const deleted = typeof ctx.query.deleted === 'string' && SLUG_PATTERN.test(ctx.query.deleted) ? ctx.query.deleted : undefined;
    await renderPlatformPage(ctx, 'tenants', admin, (t) => ({
      title: 'platform.tenants_title',
      notice: deleted ? t('platform.deleted_notice', { slug: deleted }) : undefined,
      search,
      tenants: tenants.map((tenant) => ({ ...tenant, issuer: issuerFor(tenant, deps.config) })),
      paging: pager('/platform', page, TENANTS_PAGE_SIZE, total, search ? { q: search } : {}),
    }));
  });

  const renderCreateForm = (ctx: Context, admin: PlatformAdmin, values: { slug: string; name: string }, error?: string) =>
    renderPlatformPage(ctx, 'tenant-new', admin, { title: 'platform.create_title', values, error });

  router.get('/new', async function newTenantForm(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    await renderCreateForm(ctx, admin, { slug: '', name: '' });
  });

  router.post('/tenants', async function createTenant(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const form = await deps.consoleAuth.readForm(ctx, admin);
    const values = { slug: (form.get('slug') ?? '').trim().toLowerCase().slice(0, 100), name: (form.get('name') ?? '').trim().slice(0, 300) };
    try {
      if (!values.name || values.name.length > 200) throw badRequest('name: must be 1 to 200 characters');
      const tenant = await deps.tenants.create({ slug: values.slug, name: values.name, reuseRetiredSlug: form.get('reuse_retired_slug') === 'on' });
      ctx.status = 303;
      ctx.redirect(`/platform/tenants/${tenant.slug}`);
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      await renderCreateForm(ctx, admin, values, error.message);
    }
  });
}
