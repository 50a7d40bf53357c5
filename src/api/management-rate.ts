/**
 * The `management_requests_per_minute` quota: every /api/v1 call that acts in a tenant
 * (the routes that load it with target-tenant.ts, after the scope check, so only calls that
 * may reach the tenant spend its budget) counts once against the tenant, whoever makes it.
 * Counted by the shared rate limiter (security/rate-limiter.ts: Redis across instances, in
 * memory when Redis is away), over a sliding minute.
 *
 * Over the quota is a 429 with Retry-After and `error: "quota_exceeded"` naming the quota and
 * its value: unlike the counted quotas (a 403, nothing more can be made), this one frees up
 * by itself, and 429 is the status clients and proxies know to back off and retry on.
 */
import { AppError } from '../core/errors.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { QuotaStore } from '../tenancy/quota-store.ts';
import type { Tenant } from '../tenancy/tenant.ts';

export type TenantGate = (tenant: Tenant) => Promise<void>;

export function managementRateGate(quotas: Pick<QuotaStore, 'get'>, limiter: RateLimiter): TenantGate {
  return async function checkManagementRate(tenant: Tenant): Promise<void> {
    // Runs in the target tenant's context (targetTenant entered it), so this reads its own row.
    const limit = (await quotas.get()).management_requests_per_minute;
    if (limit === null) return;
    const outcome = await limiter.consume({ tenantId: tenant.id, subject: 'management-api' }, { name: 'management_rpm', limit, windowSeconds: 60 });
    if (!outcome.allowed) {
      throw new AppError('quota_exceeded', 429, `the tenant's management_requests_per_minute quota is ${limit}: try again in ${outcome.retryAfterSeconds} s`, {
        headers: { 'retry-after': String(outcome.retryAfterSeconds) },
      });
    }
  };
}
