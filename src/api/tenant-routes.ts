/**
 * /api/v1/tenants: list, create, read, update, delete.
 *
 * The list pages by cursor: `limit` (1-200, default 50), `cursor` (the `next_cursor` of the
 * previous page), `search` (slug or name contains). Answer: `{ tenants, total, limit,
 * next_cursor }`, `next_cursor` null on the last page. The cursor is keyset paging on the
 * slug, so the last page of 10,000 tenants costs what the first does. `offset`, the older
 * paging, is still accepted (its answers also carry `offset`); it reads every row before
 * the page, and cannot be combined with `cursor`.
 */
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { badRequest, forbidden } from '../core/errors.ts';
import { targetTenant } from './target-tenant.ts';
import { tenantJson } from './serialize.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { tenantSchema } from './api-schemas.ts';

/** Strict: an unknown parameter (`page`, say) is a 400 naming it, never silently ignored. */
const listSchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
  cursor: z.string().min(1).max(200).optional(),
  search: z.string().max(200).optional(),
});

/** The cursor is opaque to clients: the last slug of a page, versioned, base64url. */
const CURSOR = /^t1:([a-z0-9_][a-z0-9_-]{0,62})$/;
const encodeCursor = (slug: string) => Buffer.from(`t1:${slug}`).toString('base64url');
function decodeCursor(cursor: string): string {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badRequest('cursor: not a cursor this API returned', 'invalid_cursor');
  return match[1]!;
}

const createSchema = z.strictObject({
  slug: z.string().max(63),
  name: z.string().trim().min(1).max(200),
  reuse_retired_slug: z.boolean().optional(),
});

const patchSchema = z.strictObject({
  name: z.string().trim().min(1).max(200).optional(),
  status: z.enum(['active', 'suspended']).optional(),
});

const tag = 'Tenants';

export const listTenants = defineRoute({
  method: 'get', path: '/tenants', operationId: 'listTenants', tag, summary: 'List tenants',
  description: 'Pages by cursor: pass the previous answer\'s `next_cursor` (null on the last page). `offset` is the older paging, kept for compatibility; it cannot be combined with `cursor`.',
  scope: 'atrium:tenants:read', query: listSchema,
  responses: {
    200: {
      description: 'A page of tenants.',
      schema: z.object({ tenants: z.array(tenantSchema), total: z.int(), limit: z.int(), offset: z.int().optional(), next_cursor: z.string().nullable() }),
    },
  },
});
export const createTenant = defineRoute({
  method: 'post', path: '/tenants', operationId: 'createTenant', tag, summary: 'Create a tenant',
  scope: 'atrium:tenants:write', body: createSchema, errors: [409],
  responses: { 201: { description: 'The tenant; Location names it.', schema: tenantSchema } },
});
export const getTenant = defineRoute({
  method: 'get', path: '/tenants/:slug', operationId: 'getTenant', tag, summary: 'Read a tenant',
  scope: 'atrium:tenants:read',
  responses: { 200: { description: 'The tenant.', schema: tenantSchema } },
});
export const updateTenant = defineRoute({
  method: 'patch', path: '/tenants/:slug', operationId: 'updateTenant', tag, summary: 'Rename, suspend or resume a tenant',
  description: 'A tenant\'s own token may rename it; only the platform changes its status (403).',
  scope: 'atrium:tenants:write', body: patchSchema,
  responses: { 200: { description: 'The tenant as updated.', schema: tenantSchema } },
});
export const deleteTenant = defineRoute({
  method: 'delete', path: '/tenants/:slug', operationId: 'deleteTenant', tag, summary: 'Delete a tenant and everything in it',
  scope: 'atrium:tenants:delete',
  responses: { 204: { description: 'Deleted.' } },
});

export function mountTenantRoutes(routes: ApiRoutes, deps: { config: AtriumConfig; store: TenantStore; service: TenantService }): void {
  const { config, store, service } = deps;
  const target = targetTenant(store);

  routes.add(listTenants, [], async function listTenants(ctx, { query }) {
    if (query.cursor !== undefined && query.offset !== undefined) throw badRequest('cursor, offset: give one or the other (cursor is the paging to use)');
    const after = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const { tenants, total, more } = await store.list({ limit: query.limit, offset: query.offset, after, search: query.search });
    ctx.body = {
      tenants: tenants.map((t) => tenantJson(t, config)),
      total,
      limit: query.limit,
      ...(query.offset === undefined ? {} : { offset: query.offset }),
      next_cursor: more ? encodeCursor(tenants.at(-1)!.slug) : null,
    };
  });

  routes.add(createTenant, [], async function createTenant(ctx, { body: input }) {
    const tenant = await service.create({ slug: input.slug, name: input.name, reuseRetiredSlug: input.reuse_retired_slug });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tenants/${tenant.slug}`);
    ctx.body = tenantJson(tenant, config);
  });

  routes.add(getTenant, [target], async function getTenant(ctx) {
    ctx.body = tenantJson(ctx.state.target, config);
  });

  routes.add(updateTenant, [target], async function updateTenant(ctx, { body: input }) {
    // Suspension is the platform's decision: a tenant's own token may rename it, not switch it off.
    if (input.status && (ctx.state.principal).tenant) throw forbidden('only the platform can change a tenant\'s status');
    const updated = await service.update(ctx.state.target, input);
    ctx.body = tenantJson(updated, config);
  });

  routes.add(deleteTenant, [target], async function deleteTenant(ctx) {
    await service.delete(ctx.state.target);
    ctx.status = 204;
  });
}
