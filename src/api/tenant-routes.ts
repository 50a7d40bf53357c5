/** /api/v1/tenants: list, create, read, update, delete. */
import type Router from '@koa/router';
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { readJson } from '../web/body.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { forbidden } from '../core/errors.ts';
import { targetTenant } from './target-tenant.ts';
import { tenantJson } from './serialize.ts';
import { pagingSchema, parseInput, queryObject } from '../core/validation.ts';

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
    const paging = parseInput(pagingSchema, queryObject(ctx.query));
    const { tenants, total } = await store.list(paging);
    ctx.body = { tenants: tenants.map((t) => tenantJson(t, config)), total, limit: paging.limit, offset: paging.offset };
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
