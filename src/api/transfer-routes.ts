/**
 * Moving a tenant between deployments (README, "Moving a tenant"): export to a bundle sealed
 * under a transfer passphrase, import a bundle. Scope `atrium:tenants:transfer`, platform
 * tokens only; a tenant cannot export or import itself. Both ends are audited
 * (runtime/tenant-transfer.ts).
 */
import { z } from 'zod';
import type { AtriumConfig } from '../config/env.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { MIN_PASSPHRASE_LENGTH } from '../core/transfer-seal.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT } from '../tenancy/slug.ts';
import type { TenantTransfer } from '../runtime/tenant-transfer.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { tenantSchema } from './api-schemas.ts';
import { targetTenant } from './target-tenant.ts';
import { tenantJson } from './serialize.ts';

/** Bundles travel base64 in JSON; 64 MiB of it is a tenant of some hundred thousand users. */
const IMPORT_LIMIT_BYTES = 64 * 1024 * 1024;
export const BUNDLE_MEDIA_TYPE = 'application/vnd.atrium.tenant-bundle';

const passphrase = z.string().min(MIN_PASSPHRASE_LENGTH, `must be at least ${MIN_PASSPHRASE_LENGTH} characters`).max(1024);
const exportSchema = z.strictObject({ passphrase, include_audit: z.boolean().optional() });
const importSchema = z.strictObject({
  bundle: z.string().min(1).regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be the bundle file in base64'),
  passphrase,
  replace: z.boolean().optional(),
});

const tag = 'Tenant transfer';

export const exportTenant = defineRoute({
  method: 'post', path: '/tenants/:slug/export', operationId: 'exportTenant', tag, summary: 'Export the tenant to a bundle sealed under a passphrase',
  description: 'Platform tokens only (a tenant cannot export itself); reserved tenants are refused.',
  scope: 'atrium:tenants:transfer', body: exportSchema,
  responses: { 200: { description: 'The bundle file.', mediaType: BUNDLE_MEDIA_TYPE } },
});
export const importTenant = defineRoute({
  method: 'post', path: '/tenants/import', operationId: 'importTenant', tag, summary: 'Import a tenant bundle',
  scope: 'atrium:tenants:transfer', body: importSchema, bodyLimitBytes: IMPORT_LIMIT_BYTES, errors: [409, 413],
  responses: {
    201: {
      description: 'The imported tenant; Location names it.',
      schema: z.object({ tenant: tenantSchema, replaced: z.boolean(), rows: z.record(z.string(), z.int()).describe('Rows imported, by table.') }),
    },
  },
});

export function mountTransferRoutes(routes: ApiRoutes, deps: { config: AtriumConfig; store: TenantStore; transfer: TenantTransfer }): void {
  const { config, store, transfer } = deps;

  routes.add(exportTenant, [targetTenant(store)], async function exportTenant(ctx, { body: input }) {
    const tenant = ctx.state.target;
    if (tenant.slug === PLATFORM_TENANT || tenant.slug === DEFAULT_TENANT) throw badRequest('a reserved tenant belongs to its deployment and cannot be exported', 'reserved_tenant');
    const bundle = await transfer.exportTenant(tenant, { passphrase: input.passphrase, includeAudit: input.include_audit ?? false });
    ctx.set('Content-Disposition', `attachment; filename="${tenant.slug}.atrium-bundle"`);
    ctx.type = BUNDLE_MEDIA_TYPE;
    ctx.body = bundle;
  });

  routes.add(importTenant, [], async function importTenant(ctx, { body: input }) {
    const result = await transfer.importBundle(Buffer.from(input.bundle, 'base64'), { passphrase: input.passphrase, replace: input.replace ?? false });
    const tenant = await store.findBySlug(result.tenant.slug);
    if (!tenant) throw notFound('the imported tenant is gone');
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tenants/${tenant.slug}`);
    ctx.body = { tenant: tenantJson(tenant, config), replaced: result.replaced, rows: result.rows };
  });
}
