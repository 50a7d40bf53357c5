/**
 * The custom roles of the tenant in context (tenant_roles, migration 019). A role in use
 * (held by a user, or named by the tenant's `security.roles` settings) cannot be deleted: the
 * check and the delete share one transaction, under the lock that user creation and role
 * changes take (accounts/user-store.ts), so no user can be given the role in between.
 */
import type { Database } from '../storage/database.ts';
import { conflict } from '../core/errors.ts';

export interface CustomRole {
  name: string;
  description: string | null;
  /** How many users of the tenant hold it. */
  users: number;
  createdAt: Date;
  updatedAt: Date;
}

interface RoleRow {
  name: string;
  description: string | null;
  users: string | number;
  created_at: Date | string;
  updated_at: Date | string;
}

const SELECT = `SELECT r.name, r.description, r.created_at, r.updated_at,
  (SELECT count(*) FROM users u WHERE r.name = ANY(u.roles)) AS users FROM tenant_roles r`;

const toRole = (row: RoleRow): CustomRole => ({
  name: row.name,
  description: row.description,
  users: Number(row.users),
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const USERS_LOCK = `SELECT pg_advisory_xact_lock(hashtext('users:' || current_setting('app.tenant_id')))`;

export class TenantRoleStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async list(): Promise<CustomRole[]> {
    return this.#db.withTenant(async (q) => (await q.query<RoleRow>(`${SELECT} ORDER BY r.name`)).rows.map(toRole));
  }

  async get(name: string): Promise<CustomRole | undefined> {
    return this.#db.withTenant(async (q) => {
      const row = (await q.query<RoleRow>(`${SELECT} WHERE r.name = $1`, [name])).rows[0];
      return row ? toRole(row) : undefined;
    });
  }

  /** Of `names`, those that are not custom roles of the tenant. */
  async unknown(names: readonly string[]): Promise<string[]> {
    if (names.length === 0) return [];
    return this.#db.withTenant(async (q) => {
      const known = new Set((await q.query<{ name: string }>('SELECT name FROM tenant_roles WHERE name = ANY($1::text[])', [[...names]])).rows.map((r) => r.name));
      return names.filter((n) => !known.has(n));
    });
  }

  async create(name: string, description: string | null): Promise<CustomRole> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<RoleRow>(
        `INSERT INTO tenant_roles (tenant_id, name, description) VALUES (current_setting('app.tenant_id')::uuid, $1, $2)
         ON CONFLICT DO NOTHING RETURNING name, description, created_at, updated_at, 0 AS users`,
        [name, description],
      );
      if (!res.rows[0]) throw conflict(`a role named "${name}" already exists in this tenant`);
      return toRole(res.rows[0]);
    });
  }

  async update(name: string, description: string | null): Promise<CustomRole | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('UPDATE tenant_roles SET description = $2, updated_at = now() WHERE name = $1', [name, description]);
      if (!res.rowCount) return undefined;
      return toRole((await q.query<RoleRow>(`${SELECT} WHERE r.name = $1`, [name])).rows[0]!);
    });
  }

  /** Deletes a role no user holds and no setting names (409 otherwise); false when there is no such role. */
  async delete(name: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      await q.query(USERS_LOCK);
      const holders = Number((await q.query<{ n: string }>('SELECT count(*) AS n FROM users WHERE $1 = ANY(roles)', [name])).rows[0]?.n ?? 0);
      if (holders > 0) throw conflict(`the role "${name}" is held by ${holders} user(s): take it from them first`);
      const setting = await q.query<{ field: string }>(
        `SELECT key AS field FROM tenants, jsonb_each_text(COALESCE(config->'security'->'roles', '{}'::jsonb)) WHERE value = $1`,
        [name],
      );
      if (setting.rows[0]) throw conflict(`the role "${name}" is the tenant's security.roles.${setting.rows[0].field}: change that setting first`);
      const res = await q.query('DELETE FROM tenant_roles WHERE name = $1', [name]);
      return res.rowCount > 0;
    });
  }
}
