/**
 * Token lifetimes of a tenant: its `oidc` section as merged (tenancy/tenant-config.ts): its
 * overrides, else the operator's defaults, within the operator's ceilings.
 */
import type { Tenant } from '../tenancy/tenant.ts';
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';

import { LIFETIME_CEILINGS, LIFETIME_DEFAULTS } from '../config/tenant-config-bounds.ts';

export { LIFETIME_CEILINGS, LIFETIME_DEFAULTS } from '../config/tenant-config-bounds.ts';

function pick(value: unknown, fallback: number, ceiling: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? Math.min(value, ceiling) : fallback;
}

export interface TokenLifetimes {
  readonly accessToken: number;
  readonly idToken: number;
  readonly refreshToken: number;
  readonly session: number;
}

/** In seconds; once per tenant record (per-tenant-record.ts). */
export const tokenLifetimes = perTenantRecord((tenant: Pick<Tenant, 'config'>): TokenLifetimes => {
  const oidc = mergedSection(tenant, 'oidc');
  return Object.freeze({
    accessToken: pick(oidc.access_token_ttl, LIFETIME_DEFAULTS.accessToken, LIFETIME_CEILINGS.accessToken),
    idToken: pick(oidc.id_token_ttl, LIFETIME_DEFAULTS.idToken, LIFETIME_CEILINGS.idToken),
    refreshToken: pick(oidc.refresh_token_ttl, LIFETIME_DEFAULTS.refreshToken, LIFETIME_CEILINGS.refreshToken),
    session: pick(oidc.session_ttl, LIFETIME_DEFAULTS.session, LIFETIME_CEILINGS.session),
  });
});
