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
import type Router from '@koa/router';
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { readJson } from '../web/body.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';
import { tenantJson } from './serialize.ts';
import { parseInput, queryObject } from '../core/validation.ts';
import { badRequest, forbidden } from '../core/errors.ts';

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

export function mountTenantRoutes(router: Router, deps: { config: AtriumConfig; store: TenantStore; service: TenantService }): void {
  const { config, store, service } = deps;
  const target = targetTenant(store);

  router.get('/tenants', requireScope('atrium:tenants:read'), async function listTenants(ctx) {
    const query = parseInput(listSchema, queryObject(ctx.query));
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

  router.post('/tenants', requireScope('atrium:tenants:write'), async function createTenant(ctx) {
    const input = parseInput(createSchema, await readJson(ctx));
    const tenant = await service.create({ slug: input.slug, name: input.name, reuseRetiredSlug: input.reuse_retired_slug });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tenants/${tenant.slug}`);
    ctx.body = tenantJson(tenant, config);
  });

  router.get('/tenants/:slug', requireScope('atrium:tenants:read'), target, async function getTenant(ctx) {
    ctx.body = tenantJson(ctx.state.target, config);
  });

  router.patch('/tenants/:slug', requireScope('atrium:tenants:write'), target, async function updateTenant(ctx) {
    const input = parseInput(patchSchema, await readJson(ctx));
    // Suspension is the platform's decision: a tenant's own token may rename it, not switch it off.
    if (input.status && (ctx.state.principal).tenant) throw forbidden('only the platform can change a tenant\'s status');
    const updated = await service.update(ctx.state.target, input);
    ctx.body = tenantJson(updated, config);
  });

  router.delete('/tenants/:slug', requireScope('atrium:tenants:delete'), target, async function deleteTenant(ctx) {
    await service.delete(ctx.state.target);
    ctx.status = 204;
  });
}
