/** /api/v1/tenants: list, create, read, update, delete. */
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { forbidden } from '../core/errors.ts';
import { targetTenant } from './target-tenant.ts';
import { tenantJson } from './serialize.ts';
import { pagingSchema } from '../core/validation.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { pagedSchema, tenantSchema } from './api-schemas.ts';

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
  scope: 'atrium:tenants:read', query: pagingSchema,
  responses: { 200: { description: 'A page of tenants.', schema: pagedSchema('tenants', tenantSchema) } },
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

  routes.add(listTenants, [], async function listTenants(ctx, { query: paging }) {
    const { tenants, total } = await store.list(paging);
    ctx.body = { tenants: tenants.map((t) => tenantJson(t, config)), total, limit: paging.limit, offset: paging.offset };
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
