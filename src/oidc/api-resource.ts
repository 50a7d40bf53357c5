/** The management API as an OAuth resource server: its audience and the scopes it accepts. */
import type { AtriumConfig } from '../config/env.ts';
import { platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import { tokenLifetimes } from './token-lifetimes.ts';

export const PLATFORM_SCOPES = [
  'atrium:tenants:read',
  'atrium:tenants:write',
  'atrium:tenants:delete',
  /** Export a tenant to a bundle, import one (runtime/tenant-transfer.ts): every secret of a tenant leaves with it. */
  'atrium:tenants:transfer',
  'atrium:cross-tenant:read',
  'atrium:cross-tenant:write',
  /** The operator's policy above the tenants (GET/PUT /api/v1/platform/config/:section). */
  'atrium:platform:read',
  'atrium:platform:write',
] as const;

export type PlatformScope = (typeof PLATFORM_SCOPES)[number];

/** What an ordinary tenant's own clients may be granted: its own tenant, nothing else. */
const TENANT_SCOPES = ['atrium:tenant:read', 'atrium:tenant:write'] as const;

export function managementApiAudience(config: AtriumConfig): string {
  return `${config.publicUrl.origin}/api/v1`;
}

/** Only the platform tenant grants platform scopes; other tenants grant scopes over themselves. */
function resourceScopesFor(isPlatformTenant: boolean): string[] {
  return isPlatformTenant ? [...PLATFORM_SCOPES] : [...TENANT_SCOPES];
}

/**
 * The API as one tenant's resource server: what its client_credentials tokens are for.
 * Read by the tenant's Provider (provider-factory.ts) and by the direct issuer
 * (client-credentials-issuer.ts) alike, so both issue the same token.
 */
export interface ApiResourceServer {
  audience: string;
  /** The scopes this tenant grants on the API (a client gets those it registered). */
  scopes: readonly string[];
  accessTokenTTL: number;
  /** ES256: short signatures, and resource servers verify them cheaply. */
  alg: 'ES256';
}

export function apiResourceServerFor(tenant: Pick<Tenant, 'slug' | 'config'>, config: AtriumConfig): ApiResourceServer {
  return {
    audience: managementApiAudience(config),
    scopes: resourceScopesFor(tenant.slug === platformTenantSlug(config)),
    accessTokenTTL: tokenLifetimes(tenant).accessToken,
    alg: 'ES256',
  };
}
