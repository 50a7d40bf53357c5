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

export interface RateLimitRule {
  /** Part of the storage key: counters of different rules never mix. */
  readonly name: string;
  readonly limit: number;
  readonly windowSeconds: number;
}

export type RateLimitName = 'login_per_ip' | 'login_per_account' | 'token_per_client' | 'token_per_ip';
export type RateLimitRules = Readonly<Record<RateLimitName, RateLimitRule>>;

type Bound = { readonly limit: number; readonly window_seconds: number };

export const RATE_LIMIT_DEFAULTS: Readonly<Record<RateLimitName, Bound>> = {
  login_per_ip: { limit: 20, window_seconds: 60 },
  login_per_account: { limit: 10, window_seconds: 15 * 60 },
  token_per_client: { limit: 600, window_seconds: 60 },
  token_per_ip: { limit: 1200, window_seconds: 60 },
};

export const RATE_LIMIT_CEILINGS: Readonly<Record<RateLimitName, Bound>> = {
  login_per_ip: { limit: 600, window_seconds: 60 },
  login_per_account: { limit: 100, window_seconds: 15 * 60 },
  token_per_client: { limit: 60_000, window_seconds: 60 },
  token_per_ip: { limit: 60_000, window_seconds: 60 },
};

/** Windows longer than a day would keep counters (and lock people out) for too long. */
export const MAX_WINDOW_SECONDS = 86_400;

const NAMES = Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitName[];

const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** The largest limit a window of `windowSeconds` may have under `ceiling`. */
function maxLimit(ceiling: Bound, windowSeconds: number): number {
  return Math.max(1, Math.min(ceiling.limit, Math.floor((ceiling.limit * windowSeconds) / ceiling.window_seconds)));
}

function pick(name: RateLimitName, value: unknown): RateLimitRule {
  const fallback = RATE_LIMIT_DEFAULTS[name];
  const v = (value && typeof value === 'object' ? value : {}) as Record<string, unknown>;
  const windowSeconds = isPositiveInt(v.window_seconds) ? Math.min(v.window_seconds, MAX_WINDOW_SECONDS) : fallback.window_seconds;
  const limit = isPositiveInt(v.limit) ? v.limit : fallback.limit;
  return { name, limit: Math.min(limit, maxLimit(RATE_LIMIT_CEILINGS[name], windowSeconds)), windowSeconds };
}

export function rateLimitRules(tenant: Pick<Tenant, 'config'>): RateLimitRules {
  const security = (tenant.config.security ?? {}) as Record<string, unknown>;
  const overrides = (security.rate_limits && typeof security.rate_limits === 'object' ? security.rate_limits : {}) as Record<string, unknown>;
  return Object.fromEntries(NAMES.map((name) => [name, pick(name, overrides[name])])) as Record<RateLimitName, RateLimitRule>;
}

/**
 * What is wrong with a `security.rate_limits` override, one message per field naming the
 * bound it breaks; empty when it is acceptable. For the configuration API, which answers
 * 400 instead of clamping.
 */
export function rateLimitViolations(value: unknown): string[] {
  if (value === undefined) return [];
  if (!value || typeof value !== 'object' || Array.isArray(value)) return ['security.rate_limits: must be an object'];
  const problems: string[] = [];
  for (const [name, rule] of Object.entries(value)) {
    const field = `security.rate_limits.${name}`;
    if (!NAMES.includes(name as RateLimitName)) {
      problems.push(`${field}: unknown limit (known: ${NAMES.join(', ')})`);
      continue;
    }
    const r = (rule && typeof rule === 'object' ? rule : {}) as Record<string, unknown>;
    if (!isPositiveInt(r.limit)) problems.push(`${field}.limit: must be a positive whole number`);
    if (!isPositiveInt(r.window_seconds)) problems.push(`${field}.window_seconds: must be a positive whole number`);
    else if (r.window_seconds > MAX_WINDOW_SECONDS) problems.push(`${field}.window_seconds: must be at most ${MAX_WINDOW_SECONDS}`);
    else if (isPositiveInt(r.limit)) {
      const ceiling = RATE_LIMIT_CEILINGS[name as RateLimitName];
      const max = maxLimit(ceiling, r.window_seconds);
      if (r.limit > max) problems.push(`${field}.limit: must be at most ${max} for a ${r.window_seconds}-second window (platform ceiling ${ceiling.limit} per ${ceiling.window_seconds} s)`);
    }
  }
  return problems;
}
