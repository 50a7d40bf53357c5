/**
 * GET /api/v1/tenants/:slug/audit: the tenant's security and admin events, newest first.
 * Another tenant's security data, so it needs atrium:cross-tenant:read.
 *
 * Query: `limit` (1-200, default 50), `cursor` (the `next_cursor` of the previous page;
 * keyset paging, stable while events arrive), filters `action`, `actor`, `outcome`
 * (`success`, `failure`), `since` (inclusive) and `until` (exclusive), ISO 8601 date-times.
 * Answer: `{ events: [{id, at, actor, action, target, outcome, ip, user_agent,
 * correlation_id, details}], next_cursor, limit }`; `next_cursor` is null on the last page.
 */
import { z } from 'zod';
import type { AuditStore } from '../audit/audit-store.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { targetTenant } from './target-tenant.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { auditEventSchema } from './api-schemas.ts';

export interface AuditRouteDeps {
  store: TenantStore;
  auditStore: AuditStore;
}

const dateTime = z.iso.datetime({ offset: true }).transform((v) => new Date(v));

/** The audit query (also used by the /admin audit page). */
export const auditQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
  action: z.string().min(1).max(100).optional(),
  actor: z.string().min(1).max(300).optional(),
  outcome: z.enum(['success', 'failure']).optional(),
  since: dateTime.optional(),
  until: dateTime.optional(),
});

export const listAudit = defineRoute({
  method: 'get', path: '/tenants/:slug/audit', operationId: 'listAuditEvents', tag: 'Audit', summary: 'The tenant\'s audit events, newest first',
  description: 'Keyset paging: pass `next_cursor` as `cursor` for the next page; it is null on the last.',
  scope: 'atrium:cross-tenant:read', query: auditQuerySchema,
  responses: { 200: { description: 'A page of events.', schema: z.object({ events: z.array(auditEventSchema), next_cursor: z.string().nullable(), limit: z.int() }) } },
});

export function mountAuditRoutes(routes: ApiRoutes, deps: AuditRouteDeps): void {
  routes.add(listAudit, [targetTenant(deps.store)], async function listAudit(ctx, { query }) {
    const { events, nextCursor } = await deps.auditStore.list(query);
    ctx.body = {
      events: events.map((e) => ({
        id: e.id,
        at: e.at.toISOString(),
        actor: e.actor,
        action: e.action,
        target: e.target,
        outcome: e.outcome,
        ip: e.ip,
        user_agent: e.userAgent,
        correlation_id: e.correlationId,
        details: e.details,
      })),
      next_cursor: nextCursor,
      limit: query.limit,
    };
  });
}
