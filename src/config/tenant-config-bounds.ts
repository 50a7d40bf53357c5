/**
 * Floors, ceilings and defaults of per-tenant settings that the configuration API checks and
 * the run-time readers apply (password policy, token lifetimes, key schedule, rate limits).
 * They live here, below every domain, so the configuration checks and the code that acts on
 * a value read the same numbers without config depending on the domains.
 */

/** No tenant may accept passwords shorter than this (NIST 800-63B §5.1.1.2). */
export const PASSWORD_MIN_LENGTH_FLOOR = 8;

/** Days between scheduled signing-key rotations: the default and the allowed range. */
export const KEY_ROTATION_DAYS = { default: 90, min: 1, max: 365 } as const;

export const LIFETIME_DEFAULTS = { accessToken: 3600, idToken: 3600, refreshToken: 14 * 86_400, session: 14 * 86_400 } as const;
export const LIFETIME_CEILINGS = { accessToken: 86_400, idToken: 86_400, refreshToken: 90 * 86_400, session: 90 * 86_400 } as const;

export type RateLimitName = 'login_per_ip' | 'login_per_account' | 'token_per_client' | 'token_per_ip';

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

export const RATE_LIMIT_NAMES = Object.keys(RATE_LIMIT_DEFAULTS) as RateLimitName[];

export const isPositiveInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** The largest limit a window of `windowSeconds` may have under `ceiling`. */
export function maxLimit(ceiling: Bound, windowSeconds: number): number {
  return Math.max(1, Math.min(ceiling.limit, Math.floor((ceiling.limit * windowSeconds) / ceiling.window_seconds)));
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
    if (!RATE_LIMIT_NAMES.includes(name as RateLimitName)) {
      problems.push(`${field}: unknown limit (known: ${RATE_LIMIT_NAMES.join(', ')})`);
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
