/** /api/v1/tenants/:slug/config: the merged view (secrets masked) and one section's overrides replaced. */
import type { Context } from 'koa';
import { z } from 'zod';
import { maskSection, maskedConfig, mergedSection, parseSection, sealSection } from '../tenancy/tenant-config.ts';
import { CONFIG_SECTIONS, isConfigSection, SECTION_SCHEMAS } from '../config/tenant-config-schema.ts';
import { readJson } from '../web/body.ts';
import { notFound } from '../core/errors.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { AtriumConfig } from '../config/env.ts';
import { tenantRole } from '../tenancy/tenant.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { targetTenant } from './target-tenant.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';

export interface ConfigRouteDeps {
  config: AtriumConfig;
  store: TenantStore;
  tenants: TenantService;
  box: SecretBox;
}

const tag = 'Tenant configuration';
/** The merged configuration, by section; secret fields show as a mask, never their value. */
const mergedConfigSchema = z.record(z.enum(CONFIG_SECTIONS), z.record(z.string(), z.unknown())).describe('Each section\'s effective values (defaults, the operator\'s policy and the tenant\'s overrides merged); secrets masked.');

export const getConfig = defineRoute({
  method: 'get', path: '/tenants/:slug/config', operationId: 'getTenantConfig', tag, summary: 'Read the tenant\'s effective configuration',
  scope: 'atrium:tenants:read',
  responses: { 200: { description: 'Every section, merged, secrets masked.', schema: mergedConfigSchema } },
});
export const putConfigSection = defineRoute({
  method: 'put', path: '/tenants/:slug/config/:section', operationId: 'putTenantConfigSection', tag, summary: 'Replace one section\'s overrides',
  description: 'The body is the section\'s schema (one of the alternatives, by `section`); what it leaves out returns to the default. An unknown field is a 400 naming it.',
  scope: 'atrium:tenants:write',
  serviceBody: z.union(CONFIG_SECTIONS.map((name) => SECTION_SCHEMAS[name].meta({ title: `${name} section` }))),
  responses: { 200: { description: 'The section as now in force, secrets masked.', schema: z.record(z.string(), z.unknown()) } },
});

export function mountConfigRoutes(routes: ApiRoutes, deps: ConfigRouteDeps): void {
  const target = targetTenant(deps.store);

  routes.add(getConfig, [target], async function getConfig(ctx) {
    ctx.body = maskedConfig(ctx.state.target);
  });

  routes.add(putConfigSection, [target], async function putConfigSection(ctx: Context) {
    const section = String(ctx.params.section ?? '');
    if (!isConfigSection(section)) throw notFound(`no configuration section "${section.slice(0, 64)}" (sections: ${CONFIG_SECTIONS.join(', ')})`);
    const tenant = ctx.state.target;
    const overrides = sealSection(deps.box, tenant, section, parseSection(section, await readJson(ctx), tenantRole(tenant, deps.config)));
    const updated = await deps.tenants.updateConfig(tenant, section, overrides);
    ctx.body = maskSection(section, mergedSection(updated, section));
  });
}
