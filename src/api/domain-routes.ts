/**
 * /api/v1/tenants/:slug/domains: a tenant's custom domains. Reading needs
 * atrium:tenants:read, changes atrium:tenants:write; every change is audited in the tenant.
 * An added domain is pending until `POST …/domains/:domain/verify` finds its challenge
 * (tenancy/domain-verification.ts); failed attempts are audited too.
 */
import { z } from 'zod';
import type { Context } from 'koa';
import { badRequest } from '../core/errors.ts';
import type { DomainService } from '../tenancy/domain-service.ts';
import type { TenantDomain } from '../tenancy/domain-store.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { challengeFor } from '../tenancy/domain-verification.ts';
import { targetTenant } from './target-tenant.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { domainSchema } from './api-schemas.ts';

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

const tag = 'Custom domains';

export const listDomains = defineRoute({
  method: 'get', path: '/tenants/:slug/domains', operationId: 'listDomains', tag, summary: 'List the tenant\'s custom domains',
  scope: 'atrium:tenants:read',
  responses: { 200: { description: 'The domains with their status and challenge.', schema: z.object({ domains: z.array(domainSchema) }) } },
});
export const addDomain = defineRoute({
  method: 'post', path: '/tenants/:slug/domains', operationId: 'addDomain', tag, summary: 'Add a custom domain (pending until verified)',
  scope: 'atrium:tenants:write', body: addSchema, errors: [409],
  responses: {
    201: { description: 'Added, pending; publish the challenge and verify.', schema: domainSchema },
    200: { description: 'The domain was already the tenant\'s: as it is.', schema: domainSchema },
  },
});
export const verifyDomain = defineRoute({
  method: 'post', path: '/tenants/:slug/domains/:domain/verify', operationId: 'verifyDomain', tag, summary: 'Check the domain\'s challenge now',
  scope: 'atrium:tenants:write', errors: [409],
  responses: { 200: { description: 'The domain after the check.', schema: domainSchema } },
});
export const removeDomain = defineRoute({
  method: 'delete', path: '/tenants/:slug/domains/:domain', operationId: 'removeDomain', tag, summary: 'Remove a custom domain',
  scope: 'atrium:tenants:write', errors: [409],
  responses: { 204: { description: 'Removed.' } },
});

export function mountDomainRoutes(routes: ApiRoutes, deps: DomainRouteDeps): void {
  const target = targetTenant(deps.store);

  routes.add(listDomains, [target], async function listDomains(ctx) {
    ctx.body = { domains: (await deps.domains.list()).map(domainJson) };
  });

  routes.add(addDomain, [target], async function addDomain(ctx, { body: input }) {
    const tenant = ctx.state.target;
    const result = await deps.domains.add(tenant, input);
    if (result.kind === 'added') {
      ctx.status = 201;
      ctx.set('Location', `/api/v1/tenants/${tenant.slug}/domains/${encodeURIComponent(result.domain.domain)}`);
    }
    ctx.body = domainJson(result.domain);
  });

  routes.add(verifyDomain, [target], async function verifyDomain(ctx) {
    const tenant = ctx.state.target;
    const domain = domainParam(ctx);
    ctx.body = domainJson(await deps.domains.verify(tenant, domain));
  });

  routes.add(removeDomain, [target], async function removeDomain(ctx) {
    const tenant = ctx.state.target;
    const domain = domainParam(ctx);
    await deps.domains.remove(tenant, domain);
    ctx.status = 204;
  });
}
