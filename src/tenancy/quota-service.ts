/**
 * Setting a tenant's quotas (the platform's doors: the API and /platform), with validation
 * and one audit event in the tenant's own log, and reading them with their usage.
 */
import { z } from 'zod';
import type { AuditLog } from '../audit/audit-log.ts';
import { parseInput } from '../core/validation.ts';
import { runAsTenant } from '../core/request-context.ts';
import { QUOTA_MAX, QUOTA_NAMES, type CountedQuota, type QuotaName, type Quotas } from './quotas.ts';
import type { QuotaStore } from './quota-store.ts';
import type { Tenant } from './tenant.ts';

const quotaValue = (name: QuotaName) =>
  z.number({ error: 'must be a whole number or null (unlimited)' }).int('must be a whole number').min(0, 'must not be negative').max(QUOTA_MAX[name], `must be at most ${QUOTA_MAX[name]}`).nullable();

/** Every quota may be given; one left out is unlimited (PUT replaces them all). Unknown fields are refused by name. */
export const quotasSchema = z.strictObject(Object.fromEntries(QUOTA_NAMES.map((n) => [n, quotaValue(n).optional()])) as Record<QuotaName, z.ZodOptional<ReturnType<typeof quotaValue>>>);

export function parseQuotas(input: unknown): Quotas {
  const parsed = parseInput(quotasSchema, input);
  return Object.fromEntries(QUOTA_NAMES.map((n) => [n, parsed[n] ?? null])) as Quotas;
}

export interface QuotaReport {
  quotas: Quotas;
  usage: Record<CountedQuota, number>;
}

export class QuotaService {
  readonly #store: QuotaStore;
  readonly #audit: AuditLog;
  constructor(store: QuotaStore, audit: AuditLog) {
    this.#store = store;
    this.#audit = audit;
  }

  /** The tenant's quotas and what it uses of each. */
  report(tenant: Pick<Tenant, 'id'>): Promise<QuotaReport> {
    return runAsTenant(tenant.id, async () => ({ quotas: await this.#store.get(), usage: await this.#store.usage() }));
  }

  /** Replaces the tenant's quotas. Lowering one below the usage blocks new creations only; nothing existing is removed. */
  async set(tenant: Pick<Tenant, 'id' | 'slug'>, quotas: Quotas): Promise<QuotaReport> {
    return runAsTenant(tenant.id, async () => {
      const before = await this.#store.get();
      const after = await this.#store.set(tenant.id, quotas);
      const changed = QUOTA_NAMES.filter((n) => before[n] !== after[n]);
      await this.#audit.record({ action: 'tenant.quotas_changed', target: tenant.slug, details: { from: before, to: after, changed } });
      return { quotas: after, usage: await this.#store.usage() };
    });
  }
}
