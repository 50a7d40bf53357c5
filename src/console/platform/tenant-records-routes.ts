/** /platform/tenants/:slug/users and /audit: a tenant's users and its audit log, read inside the tenant. */
import type Router from '@koa/router';
import { z } from 'zod';
import { decodeListCursor, encodeListCursor } from '../../storage/list-cursor.ts';
import type { Direction, Position } from '../../storage/keyset.ts';
import { cursorPager, cursorParam, inTenant, peopleOf, renderPlatformPage, requirePlatformAdmin, searchTerm, targetTenant, type PlatformDeps } from './platform-console.ts';

const USERS_PAGE_SIZE = 25;
const AUDIT_PAGE_SIZE = 50;
const auditFilter = z.object({
  cursor: z.string().min(1).max(200).optional().catch(undefined),
  action: z.string().trim().min(1).max(100).optional().catch(undefined),
});

export function mountTenantRecordRoutes(router: Router, deps: PlatformDeps): void {
  router.get('/tenants/:slug/users', async function listUsers(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const tenant = await targetTenant(ctx, deps);
    const search = searchTerm(ctx.query.q);
    const cursor = cursorParam(ctx.query.cursor);
    // Keyset paging (storage/keyset.ts): a cursor this tenant's list did not give is a 400 naming it.
    const from = cursor === undefined ? undefined : decodeListCursor('users', tenant.id, cursor);
    const { users, total, next, previous } = await inTenant(tenant, () => deps.users.list({ limit: USERS_PAGE_SIZE, from, search: search || undefined }));
    const link = (direction: Direction, at: Position | undefined) => at && encodeListCursor('users', tenant.id, direction, at);
    await renderPlatformPage(ctx, 'tenant-users', admin, (t) => ({
      title: 'platform.users_title',
      heading: t('platform.users_heading', { name: tenant.name }),
      tenant,
      users,
      search,
      paging: cursorPager(`/platform/tenants/${tenant.slug}/users`, total, { prev: link('before', previous), next: link('after', next) }, search ? { q: search } : {}),
    }));
  });

  router.get('/tenants/:slug/audit', async function listAudit(ctx) {
    const admin = requirePlatformAdmin(ctx, deps);
    if (!admin) return;
    const tenant = await targetTenant(ctx, deps);
    const filter = auditFilter.parse({ cursor: ctx.query.cursor, action: ctx.query.action });
    // A cursor this page did not hand out is a 400 from the store (invalid_cursor).
    const { events, nextCursor } = await inTenant(tenant, () => deps.auditStore.list({ limit: AUDIT_PAGE_SIZE, ...filter }));
    const next = nextCursor ? `/platform/tenants/${tenant.slug}/audit?${new URLSearchParams({ ...(filter.action ? { action: filter.action } : {}), cursor: nextCursor }).toString()}` : null;
    const people = await peopleOf(ctx, deps, tenant, events);
    await renderPlatformPage(ctx, 'tenant-audit', admin, (t) => ({
      title: 'platform.audit_title',
      heading: t('platform.audit_heading', { name: tenant.name }),
      tenant,
      events,
      people,
      action: filter.action ?? '',
      next,
      first: filter.cursor ? `/platform/tenants/${tenant.slug}/audit${filter.action ? `?${new URLSearchParams({ action: filter.action }).toString()}` : ''}` : null,
    }));
  });
}
