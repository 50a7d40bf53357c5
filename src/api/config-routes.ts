/** /api/v1/tenants/:slug/config: the merged view (secrets masked) and one section's overrides replaced. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { maskSection, maskedConfig, mergedSection, parseSection, sealSection } from '../tenancy/tenant-config.ts';
import { CONFIG_SECTIONS, isConfigSection } from '../config/tenant-config-schema.ts';
import { readJson } from '../web/body.ts';
import { notFound } from '../core/errors.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { AtriumConfig } from '../config/env.ts';
import { tenantRole } from '../tenancy/tenant.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';

export interface ConfigRouteDeps {
  config: AtriumConfig;
  store: TenantStore;
  tenants: TenantService;
  box: SecretBox;
}

export function mountConfigRoutes(router: Router, deps: ConfigRouteDeps): void {
  const target = targetTenant(deps.store);

  router.get('/tenants/:slug/config', requireScope('atrium:tenants:read'), target, async function getConfig(ctx) {
    ctx.body = maskedConfig(ctx.state.target);
  });

  router.put('/tenants/:slug/config/:section', requireScope('atrium:tenants:write'), target, async function putConfigSection(ctx: Context) {
    const section = String(ctx.params.section ?? '');
    if (!isConfigSection(section)) throw notFound(`no configuration section "${section.slice(0, 64)}" (sections: ${CONFIG_SECTIONS.join(', ')})`);
    const tenant = ctx.state.target;
    const overrides = sealSection(deps.box, tenant, section, parseSection(section, await readJson(ctx), tenantRole(tenant, deps.config)));
    const updated = await deps.tenants.updateConfig(tenant, section, overrides);
    ctx.body = maskSection(section, mergedSection(updated, section));
  });
}
