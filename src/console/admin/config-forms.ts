/**
 * Saving a configuration section from an /admin form: the same validation (shape, then
 * platform floors and ceilings, with messages naming the field and bound), sealing and
 * storage as `PUT /api/v1/tenants/:slug/config/:section`, audited like it.
 */
import type { Context } from 'koa';
import { parseSection, sealSection } from '../../tenancy/tenant-config.ts';
import type { ConfigSection } from '../../config/tenant-config-schema.ts';
import { tenantRole, type Tenant } from '../../tenancy/tenant.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { type AdminDeps } from './admin-console.ts';
import { text } from '../console-forms.ts';

// Shared with /platform's generated forms (console/config-form.ts).
export { obj, overridesOf, text } from '../console-forms.ts';

type Obj = Record<string, unknown>;

export async function saveSection(ctx: Context, deps: AdminDeps, principal: ConsolePrincipal, tenant: Tenant, section: ConfigSection, value: Obj): Promise<Tenant> {
  const overrides = sealSection(deps.box, tenant, section, parseSection(section, value, tenantRole(tenant, deps.config)));
  const updated = await deps.tenants.updateConfig(tenant, section, overrides);
  return updated;
}

/** A whole number from a form field; anything else is passed on as text for the schema to name. */
export function integer(form: URLSearchParams, name: string): number | string | undefined {
  const value = text(form, name);
  return value !== undefined && /^-?\d{1,12}$/.test(value) ? Number(value) : value;
}

/** An object of the defined entries only; undefined when none is. */
export function defined(entries: Obj): Obj | undefined {
  const kept = Object.fromEntries(Object.entries(entries).filter(([, v]) => v !== undefined));
  return Object.keys(kept).length ? kept : undefined;
}
