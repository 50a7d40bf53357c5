/** /platform: the tenants, searched and paged, and the form that creates one. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest } from '../../core/errors.ts';
import { SLUG_PATTERN } from '../../tenancy/slug.ts';
import { issuerFor } from '../../tenancy/tenant.ts';
import { cursorPager, cursorParam, formError, renderPlatformPage, requirePlatformAdmin, searchTerm, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

const TENANTS_PAGE_SIZE = 20;

/**
 * `?cursor=a:<slug>` (the page after that slug) or `b:<slug>` (the page before it): slugs are
 * what this page lists anyway, so the cursor need not be opaque. Anything else is a 400
 * naming it.
 */
function slugCursor(value: unknown): { after?: string; before?: string } {
  const cursor = cursorParam(value);
  if (cursor === undefined) return {};
  const match = /^([ab]):(.+)$/.exec(cursor);
  if (!match || !SLUG_PATTERN.test(match[2]!)) throw badRequest('cursor: not a cursor this list gave', 'invalid_cursor');
  return match[1] === 'a' ? { after: match[2] } : { before: match[2] };
}

export function mountTenantListRoutes(router: Router, deps: PlatformDeps): void {
  router.get('/', async function listTenants(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const search = searchTerm(ctx.query.q);
    const { after, before } = slugCursor(ctx.query.cursor);
    const { tenants, total, more } = await deps.tenantStore.list({ limit: TENANTS_PAGE_SIZE, after, before, search: search || undefined });
    // Keyset paging on the slug: a page after a slug, or (previous) the page before one.
    const first = tenants[0]?.slug;
    const last = tenants.at(-1)?.slug;
    const ends = before === undefined
      ? { prev: after !== undefined && first ? `b:${first}` : undefined, next: more && last ? `a:${last}` : undefined }
      : { prev: more && first ? `b:${first}` : undefined, next: last ? `a:${last}` : undefined };
    // Only a slug is echoed back: the notice cannot be made to say anything else.
    const deleted = typeof ctx.query.deleted === 'string' && SLUG_PATTERN.test(ctx.query.deleted) ? ctx.query.deleted : undefined;
    await renderPlatformPage(ctx, 'tenants', admin, (t) => ({
      title: 'platform.tenants_title',
      notice: deleted ? t('platform.deleted_notice', { slug: deleted }) : undefined,
      search,
      tenants: tenants.map((tenant) => ({ ...tenant, issuer: issuerFor(tenant, deps.config) })),
      paging: cursorPager('/platform', total, ends, search ? { q: search } : {}),
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
