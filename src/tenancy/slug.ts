/** Slug rules and the reserved tenants. */

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export const DEFAULT_TENANT = 'default';
export const OPS_TENANT = '_ops';
export const PLATFORM_TENANT = '_platforms';

/** Fixed ids, so the reserved tenants are the same on every deployment. */
export const RESERVED_TENANT_IDS = {
  [DEFAULT_TENANT]: '00000000-0000-4000-8000-000000000001',
  [PLATFORM_TENANT]: '00000000-0000-4000-8000-000000000002',
} as const;

/** Slugs that no created tenant may take. */
const RESERVED_SLUGS = new Set([DEFAULT_TENANT, OPS_TENANT, PLATFORM_TENANT, 'www', 'api', 'admin', 'platform', 'ops', 'static', 'assets']);

export function isValidSlug(slug: string): boolean {
  return SLUG_PATTERN.test(slug);
}

export function isReservedSlug(slug: string): boolean {
  return RESERVED_SLUGS.has(slug);
}
