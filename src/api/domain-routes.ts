/**
 * /api/v1/tenants/:slug/domains: a tenant's custom domains. Reading needs
 * atrium:tenants:read, changes atrium:tenants:write; every change is audited in the tenant.
 */
import type Router from '@koa/router';
import { z } from 'zod';
import { readJson } from '../http/body.ts';
import type { DomainService } from '../tenancy/domain-service.ts';
import type { TenantDomain } from '../tenancy/domain-store.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';
import { parseInput } from './validation.ts';

export interface DomainRouteDeps {
  store: TenantStore;
  domains: DomainService;
}

const addSchema = z.strictObject({
  domain: z.string().max(300),
  primary: z.boolean().optional(),
});

const domainJson = (d: TenantDomain) => ({ domain: d.domain, primary: d.primary, created_at: d.createdAt.toISOString() });

export function mountDomainRoutes(router: Router, deps: DomainRouteDeps): void {
  const target = targetTenant(deps.store);

  router.get('/tenants/:slug/domains', requireScope('atrium:tenants:read'), target, async function listDomains(ctx) {
    ctx.body = { domains: (await deps.domains.list()).map(domainJson) };
  });

  router.post('/tenants/:slug/domains', requireScope('atrium:tenants:write'), target, async function addDomain(ctx) {
    const tenant = ctx.state.target as Tenant;
    const input = parseInput(addSchema, await readJson(ctx));
    const result = await deps.domains.add(tenant, input);
    if (result.kind === 'added') {
      ctx.status = 201;
      ctx.set('Location', `/api/v1/tenants/${tenant.slug}/domains/${encodeURIComponent(result.domain.domain)}`);
    }
    ctx.body = domainJson(result.domain);
  });

  router.delete('/tenants/:slug/domains/:domain', requireScope('atrium:tenants:write'), target, async function removeDomain(ctx) {
    const tenant = ctx.state.target as Tenant;
    const domain = String(ctx.params.domain ?? '').trim().toLowerCase();
    await deps.domains.remove(tenant, domain);
    ctx.status = 204;
  });
}
