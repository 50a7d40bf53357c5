/**
 * Queries for the tenants aggregate. Finding a tenant by slug or host happens before
 * any tenant is in context, so these go through the audited cross-tenant path.
 */
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import type { Tenant, TenantStatus } from './tenant.ts';
import type { PlatformPolicy } from '../config/platform-policy.ts';

interface TenantRow {
  id: string;
  slug: string;
  name: string;
  status: TenantStatus;
  config: Record<string, unknown>;
  version: number;
  domains: string[] | null;
  primary_domain: string | null;
  previous_primary_domain: string | null;
  primary_changed_at: Date | string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const SELECT_TENANT = `
  SELECT t.id, t.slug, t.name, t.status, t.config, t.version, t.created_at, t.updated_at, t.previous_primary_domain, t.primary_changed_at,
         (SELECT array_agg(d.domain ORDER BY d.is_primary DESC, d.domain) FROM tenant_domains d WHERE d.tenant_id = t.id AND d.status <> 'pending') AS domains,
         (SELECT d.domain FROM tenant_domains d WHERE d.tenant_id = t.id AND d.is_primary) AS primary_domain
  FROM tenants t`;

const LIST_FILTER = 'WHERE ($1::text IS NULL OR t.slug ILIKE $1 OR t.name ILIKE $1)';

/**
 * The tenant list's statements, exported so a test can EXPLAIN them. Parameters of `page`:
 * search pattern or null, the slug the page starts after or null, rows to read, offset.
 */
export const TENANT_LIST_QUERIES = {
  page: `${SELECT_TENANT} ${LIST_FILTER} AND ($2::text IS NULL OR t.slug > $2) ORDER BY t.slug LIMIT $3 OFFSET $4`,
  /** The page that ends right before the slug in $2 (a console's previous page), read backward. */
  pageBefore: `${SELECT_TENANT} ${LIST_FILTER} AND t.slug < $2 ORDER BY t.slug DESC LIMIT $3 OFFSET $4`,
  count: `SELECT count(*) AS n FROM tenants t ${LIST_FILTER}`,
} as const;

function toTenant(row: TenantRow, policy: PlatformPolicy): Tenant {
  return Object.freeze({
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status,
    config: row.config ?? {},
    version: Number(row.version),
    policy,
    domains: row.domains ?? [],
    primaryDomain: row.primary_domain ?? undefined,
    ...(row.primary_changed_at ? { originChange: Object.freeze({ previousPrimaryDomain: row.previous_primary_domain ?? undefined, at: new Date(row.primary_changed_at) }) } : {}),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  });
}

export class TenantStore {
  readonly #db: Database;
  readonly #policy: () => PlatformPolicy;
  /** `policy`: the operator's policy in force (tenancy/platform-config.ts), put on every record read. */
  constructor(db: Database, policy: () => PlatformPolicy) {
    this.#db = db;
    this.#policy = policy;
  }

  /** Runs fn in one platform transaction: the store calls inside join it (a change and its webhook outbox rows). */
  together<T>(reason: string, fn: () => Promise<T>): Promise<T> {
    return this.#db.crossTenant(reason, () => fn());
  }

  /** The current version of each of `ids` that still exists: one query for every cached tenant (tenant-registry.ts). */
  async versionsOf(ids: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.#db.crossTenant('re-validate cached tenants', (q) =>
      q.query<{ id: string; version: number }>('SELECT id, version FROM tenants WHERE id = ANY($1::uuid[])', [ids]),
    );
    return new Map(rows.rows.map((r) => [r.id, Number(r.version)]));
  }

  async findBySlug(slug: string): Promise<Tenant | undefined> {
    return this.#db.crossTenant('resolve tenant by slug', (q) => this.#findOne(q, 'WHERE t.slug = $1', [slug]));
  }

  async findById(id: string): Promise<Tenant | undefined> {
    return this.#db.crossTenant('resolve tenant by id', (q) => this.#findOne(q, 'WHERE t.id = $1', [id]));
  }

  async findByDomain(domain: string): Promise<Tenant | undefined> {
    return this.#db.crossTenant('resolve tenant by custom domain', (q) =>
      // Only a proven domain routes (a pending claim may exist for several tenants).
      this.#findOne(q, "WHERE t.id = (SELECT tenant_id FROM tenant_domains WHERE domain = $1 AND status <> 'pending')", [domain]),
    );
  }

  /**
   * One page of tenants in slug order. `after` (a slug, exclusive) is keyset paging: the
   * page starts in the slug index, so the last page of 10,000 reads as few rows as the
   * first. `offset` is the older paging the API still accepts: it reads and discards every
   * row before the page. `before` (a slug, exclusive) is the page that ends right before it,
   * for a console's previous link; `more` then says whether a page precedes it. `total`
   * counts every tenant matching `search`.
   */
  async list(options: { limit: number; offset?: number; after?: string; before?: string; search?: string }): Promise<{ tenants: Tenant[]; total: number; more: boolean }> {
    const pattern = options.search ? `%${options.search.replace(/[\\%_]/g, '\\$&')}%` : null;
    const backward = options.before !== undefined;
    return this.#db.crossTenant('list tenants', async (q) => {
      // One row past the page says whether another page follows (or, backward, precedes).
      const rows = backward
        ? await q.query<TenantRow>(TENANT_LIST_QUERIES.pageBefore, [pattern, options.before, options.limit + 1, 0])
        : await q.query<TenantRow>(TENANT_LIST_QUERIES.page, [pattern, options.after ?? null, options.limit + 1, options.offset ?? 0]);
      const count = await q.query<{ n: string }>(TENANT_LIST_QUERIES.count, [pattern]);
      const page = rows.rows.slice(0, options.limit);
      if (backward) page.reverse();
      return { tenants: page.map((row) => toTenant(row, this.#policy())), total: Number(count.rows[0]?.n ?? 0), more: rows.rows.length > options.limit };
    });
  }

  /** Every tenant: the preview of an operator policy change compares each one's effective values. */
  async all(): Promise<Tenant[]> {
    return this.#db.crossTenant('list every tenant', async (q) => (await q.query<TenantRow>(`${SELECT_TENANT} ORDER BY t.slug`)).rows.map((row) => toTenant(row, this.#policy())));
  }

  async isSlugRetired(slug: string): Promise<boolean> {
    return this.#db.crossTenant('check retired slug', async (q) => (await q.query('SELECT 1 FROM retired_slugs WHERE slug = $1', [slug])).rowCount > 0);
  }

  /**
   * Inserts the tenant row and, in the same transaction, whatever `alongside` writes (its
   * keys): a tenant never exists half-created. `id` is fixed for reserved tenants.
   */
  async insert(input: { id?: string; slug: string; name: string; config?: Record<string, unknown> }, alongside: (q: Queryable, tenantId: string) => Promise<void>): Promise<Tenant> {
    const id = input.id ?? randomUUID();
    return this.#db.crossTenant('create tenant', async (q) => {
      await q.query('DELETE FROM retired_slugs WHERE slug = $1', [input.slug]);
      await q.query('INSERT INTO tenants (id, slug, name, config) VALUES ($1, $2, $3, $4)', [id, input.slug, input.name, input.config ?? {}]);
      await alongside(q, id);
      return (await this.#findOne(q, 'WHERE t.id = $1', [id]))!;
    });
  }

  async update(id: string, changes: { name?: string; status?: TenantStatus }): Promise<Tenant | undefined> {
    return this.#db.crossTenant('update tenant', async (q) => {
      const res = await q.query(
        `UPDATE tenants SET name = COALESCE($2, name), status = COALESCE($3, status),
           version = version + 1, updated_at = now() WHERE id = $1`,
        [id, changes.name ?? null, changes.status ?? null],
      );
      return res.rowCount ? this.#findOne(q, 'WHERE t.id = $1', [id]) : undefined;
    });
  }

  /**
   * Sets one section of the configuration overrides, or removes it (undefined), in a single
   * statement: two changes to different sections at once both land (a read-modify-write
   * of the whole document would let the later one drop the other's section).
   */
  async updateConfigSection(id: string, section: string, overrides: Record<string, unknown> | undefined): Promise<Tenant | undefined> {
    return this.#db.crossTenant('update tenant configuration', async (q) => {
      const res = await q.query(
        `UPDATE tenants SET config = CASE WHEN $3::jsonb IS NULL THEN COALESCE(config, '{}'::jsonb) - $2::text
                                          ELSE jsonb_set(COALESCE(config, '{}'::jsonb), ARRAY[$2::text], $3::jsonb) END,
           version = version + 1, updated_at = now() WHERE id = $1`,
        [id, section, overrides ?? null],
      );
      return res.rowCount ? this.#findOne(q, 'WHERE t.id = $1', [id]) : undefined;
    });
  }

  async #findOne(q: Queryable, where: string, params: unknown[]): Promise<Tenant | undefined> {
    const res = await q.query<TenantRow>(`${SELECT_TENANT} ${where}`, params);
    return res.rows[0] ? toTenant(res.rows[0], this.#policy()) : undefined;
  }

  /** Deletes the tenant and, by cascade, all its data; its slug is retired. */
  async delete(id: string): Promise<boolean> {
    return this.#db.crossTenant('delete tenant', async (q) => {
      const res = await q.query<{ slug: string }>('DELETE FROM tenants WHERE id = $1 RETURNING slug', [id]);
      const slug = res.rows[0]?.slug;
      if (!slug) return false;
      await q.query('INSERT INTO retired_slugs (slug, tenant_id) VALUES ($1, $2) ON CONFLICT (slug) DO UPDATE SET tenant_id = $2, retired_at = now()', [slug, id]);
      return true;
    });
  }
}

/**
 * Bumps the version of the tenant in context inside the caller's transaction. Every change
 * a Provider is built from (keys, clients) does this in its own transaction, so even when
 * the bus event is lost, instances notice the new version when their tenant cache refreshes.
 */
export async function bumpTenantVersion(q: Queryable): Promise<void> {
  await q.query(`UPDATE tenants SET version = version + 1, updated_at = now() WHERE id = atrium_current_tenant()`);
}
