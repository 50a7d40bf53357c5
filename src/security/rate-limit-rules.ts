/**
 * Rate limits of a tenant: its `security.rate_limits` overrides, bounded by platform
 * ceilings (as oidc/token-lifetimes.ts does for token lifetimes).
 *
 * A ceiling bounds both the burst (`limit`) and the rate (`limit / window_seconds`): without
 * the second, a tenant could ask for 500 per second by shrinking the window. A value above
 * a ceiling is clamped; a malformed value falls back to the default. The lowest a tenant
 * can go is 1 request per window: limits cannot be switched off per tenant.
 */
import type { Tenant } from '../tenancy/tenant.ts';
import { deepFreeze, perTenantRecord } from '../tenancy/per-tenant-record.ts';
import { isPositiveInt, MAX_WINDOW_SECONDS, maxLimit, RATE_LIMIT_CEILINGS, RATE_LIMIT_DEFAULTS, RATE_LIMIT_NAMES, type RateLimitName } from '../config/tenant-config-bounds.ts';

export { RATE_LIMIT_CEILINGS, RATE_LIMIT_DEFAULTS, MAX_WINDOW_SECONDS, rateLimitViolations, type RateLimitName } from '../config/tenant-config-bounds.ts';

export interface RateLimitRule {
  /** Part of the storage key: counters of different rules never mix. */
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
}

export type RateLimitRules = Readonly<Record<RateLimitName, RateLimitRule>>;

function pick(name: RateLimitName, value: unknown): RateLimitRule {
  const fallback = RATE_LIMIT_DEFAULTS[name];
  const v = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const windowSeconds = isPositiveInt(v.window_seconds) ? Math.min(v.window_seconds, MAX_WINDOW_SECONDS) : fallback.window_seconds;
  const limit = isPositiveInt(v.limit) ? v.limit : fallback.limit;
  return { name, limit: Math.min(limit, maxLimit(RATE_LIMIT_CEILINGS[name], windowSeconds)), windowSeconds };
}

/** Once per tenant record (per-tenant-record.ts). */
export const rateLimitRules = perTenantRecord((tenant: Pick<Tenant, 'config'>): RateLimitRules => {
  const security = (tenant.config.security ?? {}) as Record<string, unknown>;
  const overrides = (security.rate_limits && typeof security.rate_limits === 'object' ? security.rate_limits : {}) as Record<string, unknown>;
  return deepFreeze(Object.fromEntries(RATE_LIMIT_NAMES.map((name) => [name, pick(name, overrides[name])])) as Record<RateLimitName, RateLimitRule>);
});
