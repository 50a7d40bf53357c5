/**
 * /admin/audit: the tenant's audit log, newest first, filtered by action, actor, outcome
 * and dates, with the management API's query rules and keyset paging (a "next" link
 * carries the cursor; "newest" starts over).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { auditQuerySchema } from '../../api/audit-routes.ts';
import { parseInput } from '../../core/validation.ts';
import type { AuditEvent } from '../../audit/audit-store.ts';
import { runAsTenant } from '../../core/request-context.ts';
import { platformTenantSlug } from '../../tenancy/tenant.ts';
import { auditPeople } from '../audit-people.ts';
import { formError, renderAdminPage, requireAdmin, type AdminDeps } from './admin-console.ts';

const PAGE_SIZE = 50;
const FILTERS = ['action', 'actor', 'outcome', 'since', 'until'] as const;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A day of a date input as the API's date-time: `since` from its start, `until` through its end. */
function dayBound(value: string | undefined, end: boolean): string | undefined {
  if (!value || !DAY.test(value)) return value;
  const start = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(start.getTime())) return value;
  return new Date(start.getTime() + (end ? 86_400_000 : 0)).toISOString();
}

function filtersOf(ctx: Context): Record<(typeof FILTERS)[number], string> {
  const value = (name: string) => {
    const raw = ctx.query[name];
    return typeof raw === 'string' ? raw.trim().slice(0, 300) : '';
  };
  return Object.fromEntries(FILTERS.map((f) => [f, value(f)])) as Record<(typeof FILTERS)[number], string>;
}

export function mountAuditRoutes(router: Router, deps: AdminDeps): void {
  router.get('/audit', async function listAudit(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const filters = filtersOf(ctx);
    const cursor = typeof ctx.query.cursor === 'string' ? ctx.query.cursor : undefined;
    let events: AuditEvent[] = [];
    let nextCursor: string | null = null;
    let error: string | undefined;
    try {
      const query = parseInput(auditQuerySchema, {
        limit: PAGE_SIZE,
        ...(cursor ? { cursor } : {}),
        ...(filters.action ? { action: filters.action } : {}),
        ...(filters.actor ? { actor: filters.actor } : {}),
        ...(filters.outcome ? { outcome: filters.outcome } : {}),
        ...(filters.since ? { since: dayBound(filters.since, false) } : {}),
        ...(filters.until ? { until: dayBound(filters.until, true) } : {}),
      });
      ({ events, nextCursor } = await deps.auditStore.list(query));
    } catch (err) {
      const failure = formError(err);
      ctx.status = failure.status;
      error = failure.message;
    }
    // Actors and targets that are people are shown by name and email: this tenant's users, and platform admins.
    const people = await auditPeople(events, (ids) => deps.users.peopleByIds(ids), async (ids) => {
      const platform = await deps.tenantStore.findBySlug(platformTenantSlug(deps.config));
      return platform ? runAsTenant(platform.id, () => deps.users.peopleByIds(ids)) : new Map();
    });
    const keep = Object.fromEntries(Object.entries(filters).filter(([, v]) => v));
    await renderAdminPage(ctx, 'audit', principal, 'audit', {
      title: 'admin.audit_title',
      events,
      people,
      filters,
      error,
      newest: cursor ? `/admin/audit?${new URLSearchParams(keep).toString()}` : null,
      next: nextCursor ? `/admin/audit?${new URLSearchParams({ ...keep, cursor: nextCursor }).toString()}` : null,
    });
  });
}
