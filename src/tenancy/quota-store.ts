/**
 * The tenant_quotas row of a tenant (migration 019): read in the tenant's context, written
 * only on the platform path (the tenant role has no write privilege on it), and the check
 * every creating store runs in its own transaction (`enforceQuota`).
 */
import type { Database, Queryable } from '../storage/database.ts';
import { QUOTA_NAMES, UNLIMITED, quotaExceeded, type CountedQuota, type Quotas } from './quotas.ts';

const COLUMN: Readonly<Record<keyof Quotas, string>> = {
  users: 'users',
  clients: 'clients',
  custom_domains: 'custom_domains',
  federation_connections: 'federation_connections',
  management_requests_per_minute: 'management_rpm',
};

/** What each counted quota counts, one query per quota (the table names stay visible to the store conformance scan). */
const COUNT: Readonly<Record<CountedQuota, string>> = {
  users: 'SELECT count(*) AS n FROM users',
  clients: 'SELECT count(*) AS n FROM oidc_clients',
  custom_domains: 'SELECT count(*) AS n FROM tenant_domains',
  federation_connections: 'SELECT count(*) AS n FROM federation_connections',
};

type QuotaRow = Record<string, number | null>;

function toQuotas(row: QuotaRow | undefined): Quotas {
  if (!row) return { ...UNLIMITED };
  return Object.fromEntries(QUOTA_NAMES.map((name) => [name, row[COLUMN[name]] ?? null])) as Quotas;
}

const SELECT = `SELECT ${QUOTA_NAMES.map((n) => COLUMN[n]).join(', ')} FROM tenant_quotas`;

/**
 * In the caller's tenant transaction: refuses (403 quota_exceeded) one more `name` when the
 * tenant is at its quota. A per-tenant, per-quota advisory lock held to the end of the
 * transaction makes the count and the caller's insert one step, so two creations at once
 * cannot both take the last place.
 */
export async function enforceQuota(q: Queryable, name: CountedQuota): Promise<void> {
  const limit = toQuotas((await q.query<QuotaRow>(SELECT)).rows[0])[name];
  if (limit === null) return;
  await q.query(`SELECT pg_advisory_xact_lock(hashtext('quota:' || $1 || ':' || current_setting('app.tenant_id')))`, [name]);
  const used = Number((await q.query<{ n: string }>(COUNT[name])).rows[0]?.n ?? 0);
  if (used >= limit) throw quotaExceeded(name, limit);
}

export class QuotaStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** The quotas of the tenant in context (all null without a row). */
  async get(): Promise<Quotas> {
    return this.#db.withTenant(async (q) => toQuotas((await q.query<QuotaRow>(SELECT)).rows[0]));
  }

  /** How much of each counted quota the tenant in context uses. */
  async usage(): Promise<Record<CountedQuota, number>> {
    return this.#db.withTenant(async (q) => {
      const out = {} as Record<CountedQuota, number>;
      for (const [name, sql] of Object.entries(COUNT) as [CountedQuota, string][]) out[name] = Number((await q.query<{ n: string }>(sql)).rows[0]?.n ?? 0);
      return out;
    });
  }

  /** Replaces a tenant's quotas: the platform path, keyed by the tenant's id (the tenant role may not write them). */
  async set(tenantId: string, quotas: Quotas): Promise<Quotas> {
    const columns = QUOTA_NAMES.map((n) => COLUMN[n]);
    return this.#db.crossTenant('set tenant quotas', async (q) => {
      const res = await q.query<QuotaRow>(
        `INSERT INTO tenant_quotas (tenant_id, ${columns.join(', ')}) VALUES ($1, ${columns.map((_, i) => `$${i + 2}`).join(', ')})
         ON CONFLICT (tenant_id) DO UPDATE SET ${columns.map((c) => `${c} = EXCLUDED.${c}`).join(', ')}, updated_at = now()
         RETURNING ${columns.join(', ')}`,
        [tenantId, ...QUOTA_NAMES.map((n) => quotas[n])],
      );
      return toQuotas(res.rows[0]);
    });
  }
}
