/** The management API as an OAuth resource server: its audience and the scopes it accepts. */
import type { AtriumConfig } from '../config/env.ts';

export const PLATFORM_SCOPES = [
  'atrium:tenants:read',
  'atrium:tenants:write',
  'atrium:tenants:delete',
  'atrium:cross-tenant:read',
  'atrium:cross-tenant:write',
] as const;

export type PlatformScope = (typeof PLATFORM_SCOPES)[number];

/** What an ordinary tenant's own clients may be granted: its own tenant, nothing else. */
export const TENANT_SCOPES = ['atrium:tenant:read', 'atrium:tenant:write'] as const;

export function managementApiAudience(config: AtriumConfig): string {
  return `${config.publicUrl.origin}/api/v1`;
}

/** Only the platform tenant grants platform scopes; other tenants grant scopes over themselves. */
export function resourceScopesFor(isPlatformTenant: boolean): string[] {
  return isPlatformTenant ? [...PLATFORM_SCOPES] : [...TENANT_SCOPES];
}
