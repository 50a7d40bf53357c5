/**
 * /api/v1/tenants/:slug/domains: a tenant's custom domains. Reading needs
 * atrium:tenants:read, changes atrium:tenants:write; every change is audited in the tenant.
 * An added domain is pending until `POST …/domains/:domain/verify` finds its challenge
 * (tenancy/domain-verification.ts); failed attempts are audited too.
 */
import type Router from '@koa/router';
import { z } from 'zod';
import { readJson } from '../web/body.ts';
import type { Context } from 'koa';
import { badRequest } from '../core/errors.ts';
import type { DomainService } from '../tenancy/domain-service.ts';
import type { TenantDomain } from '../tenancy/domain-store.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { challengeFor } from '../tenancy/domain-verification.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';
import { parseInput } from '../core/validation.ts';

export interface DomainRouteDeps {
  store: TenantStore;
  domains: DomainService;
}

const addSchema = z.strictObject({
  domain: z.string().max(300),
  primary: z.boolean().optional(),
});

const domainJson = (d: TenantDomain) => ({
  domain: d.domain,
  primary: d.primary,
  status: d.status,
  ...(d.primaryOnVerify ? { primary_on_verify: true } : {}),
  // Kept after verification: the periodic re-check asks for the same proof.
  challenge: challengeFor(d),
  verified_at: d.verifiedAt?.toISOString() ?? null,
  checked_at: d.checkedAt?.toISOString() ?? null,
  created_at: d.createdAt.toISOString(),
});

/** A domain as a path segment: bounded before it reaches a query or a log line. */
function domainParam(ctx: Context): string {
  const domain = String(ctx.params.domain ?? '').trim().toLowerCase();
  if (!domain || domain.length > 300) throw badRequest('domain must be 1-300 characters', 'invalid_domain');
  return domain;
}

export function mountDomainRoutes(router: Router, deps: DomainRouteDeps): void {
  const target = targetTenant(deps.store);

  router.get('/tenants/:slug/domains', requireScope('atrium:tenants:read'), target, async function listDomains(ctx) {
    ctx.body = { domains: (await deps.domains.list()).map(domainJson) };
  });

  router.post('/tenants/:slug/domains', requireScope('atrium:tenants:write'), target, async function addDomain(ctx) {
    const tenant = ctx.state.target;
    const input = parseInput(addSchema, await readJson(ctx));
    const result = await deps.domains.add(tenant, input);
    if (result.kind === 'added') {
      ctx.status = 201;
      ctx.set('Location', `/api/v1/tenants/${tenant.slug}/domains/${encodeURIComponent(result.domain.domain)}`);
    }
    ctx.body = domainJson(result.domain);
  });

  router.post('/tenants/:slug/domains/:domain/verify', requireScope('atrium:tenants:write'), target, async function verifyDomain(ctx) {
    const tenant = ctx.state.target;
    const domain = domainParam(ctx);
    ctx.body = domainJson(await deps.domains.verify(tenant, domain));
  });

  router.delete('/tenants/:slug/domains/:domain', requireScope('atrium:tenants:write'), target, async function removeDomain(ctx) {
    const tenant = ctx.state.target;
    const domain = domainParam(ctx);
    await deps.domains.remove(tenant, domain);
    ctx.status = 204;
  });
}
