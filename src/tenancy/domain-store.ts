/**
 * A tenant's custom domains (`tenant_domains`), under the row-level security of the tenant
 * in context. Every change runs in one transaction that first bumps the tenant's version
 * (which also locks its row, so concurrent changes of one tenant's domains serialize and
 * "only one primary" holds); a failed change rolls the bump back with it.
 */
import { conflict, notFound } from '../http/errors.ts';
import type { Database, Queryable } from '../storage/database.ts';

export interface TenantDomain {
  readonly domain: string;
  readonly primary: boolean;
  readonly createdAt: Date;
}

interface DomainRow {
  domain: string;
  is_primary: boolean;
  created_at: Date | string;
}

const toDomain = (row: DomainRow): TenantDomain => ({ domain: row.domain, primary: row.is_primary, createdAt: new Date(row.created_at) });

export type AddDomainResult = { kind: 'added'; domain: TenantDomain } | { kind: 'made_primary'; domain: TenantDomain };

export class DomainStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** The tenant's domains, primary first. */
  async list(): Promise<TenantDomain[]> {
    return this.#db.withTenant(async (q) => (await q.query<DomainRow>('SELECT domain, is_primary, created_at FROM tenant_domains ORDER BY is_primary DESC, domain')).rows.map(toDomain));
  }

  /**
   * Adds a normalized domain. The tenant's first domain, or one added with `primary`,
   * becomes the primary. A domain the tenant already has is a 409, unless `primary` asks
   * to make a non-primary one the primary. A domain of another tenant is a 409.
   */
  async add(domain: string, primary: boolean): Promise<AddDomainResult> {
    return this.#change(async (q) => {
      const existing = (await q.query<DomainRow>('SELECT domain, is_primary, created_at FROM tenant_domains WHERE domain = $1', [domain])).rows[0];
      if (existing) {
        if (!primary || existing.is_primary) throw conflict(`"${domain}" is already a domain of this tenant`);
        await q.query('UPDATE tenant_domains SET is_primary = (domain = $1)', [domain]);
        return { kind: 'made_primary', domain: { ...toDomain(existing), primary: true } };
      }
      const count = Number((await q.query<{ n: string }>('SELECT count(*) AS n FROM tenant_domains')).rows[0]?.n ?? 0);
      const makePrimary = primary || count === 0;
      if (makePrimary) await q.query('UPDATE tenant_domains SET is_primary = false WHERE is_primary');
      try {
        const res = await q.query<DomainRow>(
          `INSERT INTO tenant_domains (tenant_id, domain, is_primary) VALUES (current_setting('app.tenant_id')::uuid, $1, $2)
           RETURNING domain, is_primary, created_at`,
          [domain, makePrimary],
        );
        return { kind: 'added', domain: toDomain(res.rows[0]!) };
      } catch (err) {
        // The unique index on domain spans tenants (row-level security does not hide it).
        if ((err as { code?: string }).code === '23505') throw conflict(`"${domain}" is already a custom domain of another tenant`);
        throw err;
      }
    });
  }

  /** Removes a domain; if it was the primary, the oldest remaining domain becomes the primary. */
  async remove(domain: string): Promise<void> {
    await this.#change(async (q) => {
      const res = await q.query<{ is_primary: boolean }>('DELETE FROM tenant_domains WHERE domain = $1 RETURNING is_primary', [domain]);
      if (!res.rows[0]) throw notFound(`no custom domain "${domain.slice(0, 300)}" for this tenant`);
      if (res.rows[0].is_primary) {
        await q.query('UPDATE tenant_domains SET is_primary = true WHERE domain = (SELECT domain FROM tenant_domains ORDER BY created_at, domain LIMIT 1)');
      }
    });
  }

  async #change<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#db.withTenant(async (q) => {
      const bumped = await q.query("UPDATE tenants SET version = version + 1, updated_at = now() WHERE id = current_setting('app.tenant_id')::uuid");
      if (!bumped.rowCount) throw conflict('the tenant was deleted meanwhile');
      return fn(q);
    });
  }
}
