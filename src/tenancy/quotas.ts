/**
 * Per-tenant quotas (issue 13, item 5): set by the platform, read in the tenant's own
 * transaction by every door that creates something counted. `null` is unlimited.
 */
import { AppError } from '../core/errors.ts';

export const QUOTA_NAMES = ['users', 'clients', 'custom_domains', 'federation_connections', 'management_requests_per_minute'] as const;
export type QuotaName = (typeof QUOTA_NAMES)[number];
export type Quotas = Record<QuotaName, number | null>;
/** The quotas counted by rows of a table (the fifth, the request rate, is counted in the rate limiter). */
export type CountedQuota = Exclude<QuotaName, 'management_requests_per_minute'>;

/** The largest value a quota may take: beyond it a number is a typo, not a limit (a 400). */
export const QUOTA_MAX: Readonly<Record<QuotaName, number>> = {
  users: 10_000_000,
  clients: 100_000,
  custom_domains: 10_000,
  federation_connections: 10_000,
  management_requests_per_minute: 100_000,
};

export const UNLIMITED: Quotas = { users: null, clients: null, custom_domains: null, federation_connections: null, management_requests_per_minute: null };

/** The 403 of every door: names the quota and its value. */
export function quotaExceeded(name: QuotaName, value: number): AppError {
  return new AppError('quota_exceeded', 403, `the tenant's ${name} quota is ${value}: the platform administrator can raise it`);
}
