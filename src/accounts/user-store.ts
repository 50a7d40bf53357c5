/** Queries for users, always inside the current tenant (row-level security). */
import { keysetPage, pageOf, POSITION_US, type Direction, type PageEnds, type Position } from '../storage/keyset.ts';
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import { conflict } from '../core/errors.ts';
import type { AccountGrants, OutstandingLinks } from './credential-change.ts';
import { enforceQuota } from '../tenancy/quota-store.ts';
import { DEFAULT_ROLES } from '../config/tenant-config-schema.ts';
import { storedProfile, type Profile } from './profile-claims.ts';

export interface User {
  id: string;
  email: string;
  emailVerified: boolean;
  name: string | null;
  roles: string[];
  status: 'active' | 'disabled';
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
  /** The standard claims kept beside name and email (given_name, address, ...: profile-claims.ts). */
  profile: Profile;
  /** The user's verified phone number (E.164), or null: phone-store.ts keeps it, ID tokens and userinfo show it. */
  verifiedPhone: string | null;
}

export interface UserWithSecret extends User {
  passwordHash: string | null;
}

interface UserRow {
  id: string;
  email: string;
  email_verified: boolean;
  name: string | null;
  roles: string[];
  status: 'active' | 'disabled';
  password_hash: string | null;
  created_at: Date | string;
  updated_at: Date | string;
  last_login_at: Date | string | null;
  profile: unknown;
  verified_phone: string | null;
}

// The phone counts only once verified (migration 014): a number waiting for its code is not the user's.
const COLUMNS = 'id, email, email_verified, name, roles, status, password_hash, created_at, updated_at, last_login_at, profile, CASE WHEN phone_verified_at IS NOT NULL THEN phone END AS verified_phone';

function toUser(row: UserRow): UserWithSecret {
  return {
    id: row.id,
    email: row.email,
    emailVerified: row.email_verified,
    name: row.name,
    roles: row.roles ?? [],
    status: row.status,
    passwordHash: row.password_hash,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
    lastLoginAt: row.last_login_at ? new Date(row.last_login_at) : null,
    profile: storedProfile(typeof row.profile === 'string' ? JSON.parse(row.profile) : row.profile),
    verifiedPhone: row.verified_phone ?? null,
  };
}

/** Strips the password hash before a user leaves the accounts module. */
export function publicUser(user: UserWithSecret): User {
  const { passwordHash: _omit, ...rest } = user;
  return rest;
}

const USER_FILTER = 'WHERE ($1::text IS NULL OR email ILIKE $1 OR name ILIKE $1)';
const userPage = (direction: Direction) => {
  const { where, orderBy } = keysetPage('id', 'uuid', 4, 5, direction);
  return `SELECT ${COLUMNS}, ${POSITION_US} FROM users ${USER_FILTER} AND ${where} ${orderBy} LIMIT $2 OFFSET $3`;
};

/**
 * The users list's statements, exported so a test can EXPLAIN them. Parameters of a page:
 * search pattern or null, rows to read, offset, the position's microseconds and id (or nulls).
 */
export const USER_LIST_QUERIES = {
  after: userPage('after'),
  before: userPage('before'),
  count: `SELECT count(*) AS n FROM users ${USER_FILTER}`,
} as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class UserStore {
  readonly #db: Database;
  readonly #links: OutstandingLinks;
  readonly #grants: AccountGrants;
  constructor(db: Database, others: { links: OutstandingLinks; grants: AccountGrants }) {
    this.#db = db;
    this.#links = others.links;
    this.#grants = others.grants;
  }

  async findById(id: string): Promise<UserWithSecret | undefined> {
    if (!UUID.test(id)) return undefined;
    const res = await this.#db.tenantQuery<UserRow>(`SELECT ${COLUMNS} FROM users WHERE id = $1`, [id]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  /**
   * findById as a statement for another module's batch (a token grant reads its account in
   * the round trip that reads its token, oidc/adapter.ts): `idSql` is SQL yielding the id
   * (a uuid, or NULL for none), over the batch statement's own parameters; `read` makes the
   * answer's rows the user.
   */
  byIdStatement(idSql: string): { sql: string; read: (rows: readonly unknown[]) => UserWithSecret | undefined } {
    return { sql: `SELECT ${COLUMNS} FROM users WHERE id = (${idSql})`, read: (rows) => (rows[0] ? toUser(rows[0] as UserRow) : undefined) };
  }

  async findByEmail(email: string): Promise<UserWithSecret | undefined> {
    const res = await this.#db.tenantQuery<UserRow>(`SELECT ${COLUMNS} FROM users WHERE lower(email) = lower($1)`, [email]);
    return res.rows[0] ? toUser(res.rows[0]) : undefined;
  }

  /**
   * One page of the tenant's users in creation order. `from` is keyset paging
   * (storage/keyset.ts): the page starts right after (or, `before`, ends right before) a
   * position a previous page gave, and reads about `limit` rows however deep it is.
   * `offset` is the older paging (reads every row before its page). `total` counts every
   * user matching `search`.
   */
  async list(options: { limit: number; offset?: number; from?: { direction: Direction; position: Position }; search?: string }): Promise<{ users: User[]; total: number } & PageEnds> {
    const pattern = options.search ? `%${options.search.replace(/[\\%_]/g, '\\$&')}%` : null;
    const direction = options.from?.direction ?? 'after';
    return this.#db.withTenant(async (q) => {
      const rows = await q.query<UserRow & { position_us: string }>(USER_LIST_QUERIES[direction], [pattern, options.limit + 1, options.offset ?? 0, options.from?.position.us ?? null, options.from?.position.key ?? null]);
      const count = await q.query<{ n: string }>(USER_LIST_QUERIES.count, [pattern]);
      const { rows: page, ends } = pageOf(rows.rows, options.limit, (r) => r.id, { direction, position: options.from?.position, offset: options.offset });
      return { users: page.map((r) => publicUser(toUser(r))), total: Number(count.rows[0]?.n ?? 0), ...ends };
    });
  }

  /**
   * Inserts a user. Without `roles`, the tenant's first user gets `security.roles.first_user`
   * and every later one `security.roles.new_user` (owner and member by default), whichever
   * door creates them (API, /admin, signup, invitation, federation). The count, the users
   * quota and the insert share a transaction and a per-tenant advisory lock, so two first
   * signups cannot both own the tenant and two signups cannot both take its last place.
   */
  async create(input: { email: string; passwordHash: string | null; name?: string | null; emailVerified?: boolean; roles?: string[] }): Promise<UserWithSecret> {
    return this.#db.withTenant(async (q) => {
      await q.query(`SELECT pg_advisory_xact_lock(hashtext('users:' || current_setting('app.tenant_id')))`);
      await enforceQuota(q, 'users');
      const roles = input.roles ?? (await rolesForNewUser(q));
      const res = await q.query<UserRow>(
        `INSERT INTO users (tenant_id, id, email, email_verified, password_hash, name, roles)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
        [randomUUID(), input.email, input.emailVerified ?? false, input.passwordHash, input.name ?? null, roles],
      );
      return toUser(res.rows[0]!);
    });
  }

  /**
   * Changes a user. A change of roles or status never leaves a tenant that has an active
   * owner without one (409): checked in the same transaction, under the lock `create` takes,
   * so two admins demoting the last two owners at once cannot both pass. A credential change
   * (password, email, disabling) ends the user's outstanding mail links in the same transaction.
   */
  async update(id: string, changes: { email?: string; name?: string | null; emailVerified?: boolean; roles?: string[]; status?: 'active' | 'disabled'; passwordHash?: string }): Promise<UserWithSecret | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.withTenant(async (q) => {
      const write = async () => {
        if (changes.passwordHash !== undefined || changes.email !== undefined || changes.status === 'disabled') await this.#links.endOutstandingLinks(q, id);
        const res = await q.query<UserRow>(
          `UPDATE users SET email = COALESCE($2, email), name = CASE WHEN $3::boolean THEN $4 ELSE name END,
             email_verified = COALESCE($5, email_verified), roles = COALESCE($6, roles), status = COALESCE($7, status),
             password_hash = COALESCE($8, password_hash), updated_at = now()
           WHERE id = $1 RETURNING ${COLUMNS}`,
          [id, changes.email ?? null, changes.name !== undefined, changes.name ?? null, changes.emailVerified ?? null, changes.roles ?? null, changes.status ?? null, changes.passwordHash ?? null],
        );
        return res.rows[0] ? toUser(res.rows[0]) : undefined;
      };
      return changes.roles === undefined && changes.status === undefined ? write() : keepingAnOwner(q, write);
    });
  }

  /**
   * Replaces the user's profile claims (and their name, when given) with what their upstream
   * sent at a sign-in; answers the user as changed, or undefined when there is no such user.
   */
  async writeProfile(id: string, changes: { profile: Profile; name?: string }): Promise<UserWithSecret | undefined> {
    if (!UUID.test(id)) return undefined;
    return this.#db.withTenant(async (q) => {
      const res = await q.query<UserRow>(
        `UPDATE users SET profile = $2::jsonb, name = COALESCE($3, name), updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
        [id, JSON.stringify(changes.profile), changes.name ?? null],
      );
      return res.rows[0] ? toUser(res.rows[0]) : undefined;
    });
  }

  /** Names and emails of the users among `ids` (one query), for showing who did what. */
  async peopleByIds(ids: readonly string[]): Promise<Map<string, { email: string; name: string | null }>> {
    const valid = [...new Set(ids.filter((id) => UUID.test(id)))];
    if (valid.length === 0) return new Map();
    return this.#db.withTenant(async (q) => {
      const res = await q.query<{ id: string; email: string; name: string | null }>('SELECT id, email, name FROM users WHERE id = ANY($1::uuid[])', [valid]);
      return new Map(res.rows.map((r) => [r.id, { email: r.email, name: r.name }]));
    });
  }

  async recordLogin(id: string): Promise<void> {
    await this.#db.tenantQuery('UPDATE users SET last_login_at = now() WHERE id = $1', [id]);
  }

  /** Deletes the user and everything oidc-provider stored for them (sessions, grants, tokens); never the last active owner (409). */
  async delete(id: string): Promise<boolean> {
    if (!UUID.test(id)) return false;
    return this.#db.withTenant((q) =>
      keepingAnOwner(q, async () => {
        const res = await q.query('DELETE FROM users WHERE id = $1', [id]);
        if (res.rowCount) await this.#grants.forgetAccount(q, id);
        return res.rowCount > 0;
      }),
    );
  }
}

/** The tenant's `security.roles` setting for its first user or a later one (read in the creating transaction). */
async function rolesForNewUser(q: Queryable): Promise<string[]> {
  const first = (await q.query('SELECT 1 FROM users LIMIT 1')).rowCount === 0;
  const res = await q.query<{ role: string | null }>(`SELECT config->'security'->'roles'->>$1 AS role FROM tenants`, [first ? 'first_user' : 'new_user']);
  return [res.rows[0]?.role ?? (first ? DEFAULT_ROLES.first_user : DEFAULT_ROLES.new_user)];
}

const ACTIVE_OWNERS = `SELECT count(*) AS n FROM users WHERE 'owner' = ANY(roles) AND status = 'active'`;

/**
 * Runs a change of users in the caller's transaction, under the tenant's users lock, and
 * undoes it (409) if the tenant had an active owner before and has none after.
 */
async function keepingAnOwner<T>(q: Queryable, change: () => Promise<T>): Promise<T> {
  await q.query(`SELECT pg_advisory_xact_lock(hashtext('users:' || current_setting('app.tenant_id')))`);
  const before = Number((await q.query<{ n: string }>(ACTIVE_OWNERS)).rows[0]?.n ?? 0);
  const result = await change();
  if (before > 0 && Number((await q.query<{ n: string }>(ACTIVE_OWNERS)).rows[0]?.n ?? 0) === 0) {
    throw conflict('this is the last owner of the organisation: make another user an owner first');
  }
  return result;
}
