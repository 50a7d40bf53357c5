/**
 * A tenant's custom domains (`tenant_domains`), under the row-level security of the tenant
 * in context. Every change runs in one transaction that first bumps the tenant's version
 * (which also locks its row, so concurrent changes of one tenant's domains serialize and
 * "only one primary" holds); a failed change rolls the bump back with it.
 *
 * A domain is `pending` until its challenge is met (domain-verification.ts); only a
 * verified (or later `unverified`, still served) domain routes, is exclusive across tenants
 * (a partial unique index) and can be the primary.
 */
import { enforceQuota } from './quota-store.ts';
import { randomBytes } from 'node:crypto';
import { conflict, notFound } from '../core/errors.ts';
import type { Database, Queryable } from '../storage/database.ts';

export type DomainStatus = 'pending' | 'verified' | 'unverified';

export interface TenantDomain {
  readonly domain: string;
  readonly primary: boolean;
  readonly status: DomainStatus;
  /** The value of the DNS TXT record and of the HTTP token that prove control. */
  readonly challengeToken: string;
  /** A primary asked for while pending: granted at verification. */
  readonly primaryOnVerify: boolean;
  readonly verifiedAt: Date | undefined;
  readonly checkedAt: Date | undefined;
  readonly createdAt: Date;
}

interface DomainRow {
  domain: string;
  is_primary: boolean;
  status: DomainStatus;
  challenge_token: string;
  primary_on_verify: boolean;
  verified_at: Date | string | null;
  checked_at: Date | string | null;
  created_at: Date | string;
}

const COLUMNS = 'domain, is_primary, status, challenge_token, primary_on_verify, verified_at, checked_at, created_at';
const date = (v: Date | string | null) => (v === null ? undefined : new Date(v));
const toDomain = (row: DomainRow): TenantDomain => ({
  domain: row.domain,
  primary: row.is_primary,
  status: row.status,
  challengeToken: row.challenge_token,
  primaryOnVerify: row.primary_on_verify,
  verifiedAt: date(row.verified_at),
  checkedAt: date(row.checked_at),
  createdAt: new Date(row.created_at),
});

export type AddDomainResult =
  | { kind: 'added'; domain: TenantDomain }
  | { kind: 'made_primary'; domain: TenantDomain }
  | { kind: 'primary_on_verify'; domain: TenantDomain };

/** A domain due for a re-check, across tenants. */
export interface DueDomain {
  readonly tenantId: string;
  readonly domain: string;
  readonly challengeToken: string;
  readonly status: DomainStatus;
}

export class DomainStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** The tenant's domains, primary first. */
  async list(): Promise<TenantDomain[]> {
    return this.#db.withTenant(async (q) => (await q.query<DomainRow>(`SELECT ${COLUMNS} FROM tenant_domains ORDER BY is_primary DESC, domain`)).rows.map(toDomain));
  }

  async get(domain: string): Promise<TenantDomain> {
    const row = await this.#db.withTenant(async (q) => (await q.query<DomainRow>(`SELECT ${COLUMNS} FROM tenant_domains WHERE domain = $1`, [domain])).rows[0]);
    if (!row) throw notFound(`no custom domain "${domain.slice(0, 300)}" for this tenant`);
    return toDomain(row);
  }

  /**
   * Adds a normalized domain, pending, with a fresh challenge token. `primary` on a new or
   * pending domain is granted when it is verified; on a verified one it makes it the primary
   * at once. A domain the tenant already has is a 409 otherwise.
   */
  async add(domain: string, primary: boolean): Promise<AddDomainResult> {
    return this.#change(async (q) => {
      const existing = (await q.query<DomainRow>(`SELECT ${COLUMNS} FROM tenant_domains WHERE domain = $1`, [domain])).rows[0];
      if (existing) {
        if (!primary || existing.is_primary || existing.primary_on_verify) throw conflict(`"${domain}" is already a domain of this tenant`);
        if (existing.status === 'pending') {
          await q.query('UPDATE tenant_domains SET primary_on_verify = true WHERE domain = $1', [domain]);
          return { kind: 'primary_on_verify', domain: { ...toDomain(existing), primaryOnVerify: true } };
        }
        await q.query('UPDATE tenant_domains SET is_primary = (domain = $1)', [domain]);
        return { kind: 'made_primary', domain: { ...toDomain(existing), primary: true } };
      }
      await enforceQuota(q, 'custom_domains');
      const res = await q.query<DomainRow>(
        `INSERT INTO tenant_domains (tenant_id, domain, is_primary, status, challenge_token, primary_on_verify)
         VALUES (current_setting('app.tenant_id')::uuid, $1, false, 'pending', $2, $3) RETURNING ${COLUMNS}`,
        [domain, randomBytes(32).toString('base64url'), primary],
      );
      return { kind: 'added', domain: toDomain(res.rows[0]!) };
    });
  }

  /**
   * Marks a domain verified (its challenge was just met). It becomes the primary when that
   * was asked for, or when the tenant has no primary yet. Verified by another tenant: 409.
   */
  async markVerified(domain: string): Promise<TenantDomain> {
    return this.#change(async (q) => {
      try {
        const res = await q.query<DomainRow>(
          `UPDATE tenant_domains SET status = 'verified', verified_at = coalesce(verified_at, now()), checked_at = now(), check_failures = 0
           WHERE domain = $1 RETURNING ${COLUMNS}`,
          [domain],
        );
        if (!res.rows[0]) throw notFound(`no custom domain "${domain.slice(0, 300)}" for this tenant`);
      } catch (err) {
        // The partial unique index spans tenants (row-level security does not hide it).
        if ((err as { code?: string }).code === '23505') throw conflict(`"${domain}" is a verified custom domain of another tenant`);
        throw err;
      }
      await q.query(
        `UPDATE tenant_domains SET is_primary = (domain = $1), primary_on_verify = primary_on_verify AND domain <> $1
         WHERE (SELECT primary_on_verify FROM tenant_domains WHERE domain = $1) OR NOT EXISTS (SELECT 1 FROM tenant_domains WHERE is_primary)`,
        [domain],
      );
      return toDomain((await q.query<DomainRow>(`SELECT ${COLUMNS} FROM tenant_domains WHERE domain = $1`, [domain])).rows[0]!);
    });
  }

  /** Removes a domain; if it was the primary, the oldest remaining verified domain becomes the primary. */
  async remove(domain: string): Promise<void> {
    await this.#change(async (q) => {
      const res = await q.query<{ is_primary: boolean }>('DELETE FROM tenant_domains WHERE domain = $1 RETURNING is_primary', [domain]);
      if (!res.rows[0]) throw notFound(`no custom domain "${domain.slice(0, 300)}" for this tenant`);
      if (res.rows[0].is_primary) {
        await q.query(
          `UPDATE tenant_domains SET is_primary = true
           WHERE domain = (SELECT domain FROM tenant_domains WHERE status <> 'pending' ORDER BY created_at, domain LIMIT 1)`,
        );
      }
    });
  }

  /**
   * Claims up to `limit` routed domains (of every tenant) not checked for `intervalMs`, by
   * stamping `checked_at`: instances re-checking at once take different rows.
   */
  async claimDue(intervalMs: number, limit: number): Promise<DueDomain[]> {
    return this.#db.crossTenant('claim custom domains due for a re-check', async (q) => {
      const res = await q.query<{ tenant_id: string; domain: string; challenge_token: string; status: DomainStatus }>(
        `UPDATE tenant_domains SET checked_at = now()
         WHERE (tenant_id, domain) IN (
           SELECT tenant_id, domain FROM tenant_domains
           WHERE status <> 'pending' AND (checked_at IS NULL OR checked_at <= now() - $1 * interval '1 millisecond')
           ORDER BY checked_at NULLS FIRST LIMIT $2 FOR UPDATE SKIP LOCKED)
         RETURNING tenant_id, domain, challenge_token, status`,
        [intervalMs, limit],
      );
      return res.rows.map((r) => ({ tenantId: r.tenant_id, domain: r.domain, challengeToken: r.challenge_token, status: r.status }));
    });
  }

  /**
   * Records a re-check. After `threshold` failures in a row a verified domain becomes
   * `unverified`; one success makes it verified again. Returns the status it now has.
   */
  async recordCheck(tenantId: string, domain: string, ok: boolean, threshold: number): Promise<DomainStatus | undefined> {
    return this.#db.crossTenant('record a custom domain re-check', async (q) => {
      const res = await q.query<{ status: DomainStatus }>(
        `UPDATE tenant_domains
         SET check_failures = CASE WHEN $3 THEN 0 ELSE check_failures + 1 END,
             status = CASE WHEN $3 THEN 'verified' WHEN check_failures + 1 >= $4 THEN 'unverified' ELSE status END
         WHERE tenant_id = $1 AND domain = $2 AND status <> 'pending' RETURNING status`,
        [tenantId, domain, ok, threshold],
      );
      return res.rows[0]?.status;
    });
  }

  async #change<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    return this.#db.withTenant(async (q) => {
      const bumped = await q.query("UPDATE tenants SET version = version + 1, updated_at = now() WHERE id = current_setting('app.tenant_id')::uuid");
      if (!bumped.rowCount) throw conflict('the tenant was deleted meanwhile');
      const primary = async () => (await q.query<{ domain: string }>('SELECT domain FROM tenant_domains WHERE is_primary')).rows[0]?.domain ?? null;
      const before = await primary();
      const result = await fn(q);
      const after = await primary();
      // The origin the tenant leaves, for the redirect grace period (federation/redirect-uris.ts).
      if (after !== before) {
        await q.query("UPDATE tenants SET previous_primary_domain = $1, primary_changed_at = now() WHERE id = current_setting('app.tenant_id')::uuid", [before]);
      }
      return result;
    });
  }
}
