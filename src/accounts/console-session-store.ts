/** Rows of `console_sessions`, always inside the current tenant (row-level security). */
import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';

export interface ConsoleSessionRecord {
  idHash: string;
  userId: string | null;
  platformAdminId: string | null;
  platformAdminEmail: string | null;
  oidcSessionUid: string | null;
  amr: string[];
  /** When the user last authenticated with `amr` (sign-in or re-authentication). */
  authenticatedAt: Date | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: Date;
  lastSeenAt: Date;
  expiresAt: Date;
  /** A one-time result waits for the next page (console/console-flash.ts). */
  hasFlash: boolean;
}

interface Row {
  id_hash: string;
  user_id: string | null;
  platform_admin_id: string | null;
  platform_admin_email: string | null;
  oidc_session_uid: string | null;
  amr: string[];
  authenticated_at: Date | string | null;
  ip: string | null;
  user_agent: string | null;
  created_at: Date | string;
  last_seen_at: Date | string;
  expires_at: Date | string;
  has_flash: boolean;
}

const COLUMNS = 'id_hash, user_id, platform_admin_id, platform_admin_email, oidc_session_uid, amr, authenticated_at, ip, user_agent, created_at, last_seen_at, expires_at, flash_enc IS NOT NULL AS has_flash';

function toRecord(row: Row): ConsoleSessionRecord {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    platformAdminId: row.platform_admin_id,
    platformAdminEmail: row.platform_admin_email,
    oidcSessionUid: row.oidc_session_uid,
    amr: row.amr ?? [],
    authenticatedAt: row.authenticated_at ? new Date(row.authenticated_at) : null,
    ip: row.ip,
    userAgent: row.user_agent,
    createdAt: new Date(row.created_at),
    lastSeenAt: new Date(row.last_seen_at),
    expiresAt: new Date(row.expires_at),
    hasFlash: row.has_flash === true,
  };
}

/** The stored form of a cookie value: a database read never yields a usable cookie. */
export const hashSessionId = (id: string) => createHash('sha256').update(id).digest('base64url');

export interface NewConsoleSession {
  id: string;
  userId?: string;
  platformAdmin?: { id: string; email: string; handoffNonce: string };
  oidcSessionUid?: string;
  amr: string[];
  authenticatedAt?: Date | undefined;
  ip: string;
  userAgent: string;
  ttlSeconds: number;
}

export class ConsoleSessionStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Inserts a session; false when a platform admin's hand-off nonce was already used. */
  async create(session: NewConsoleSession): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query(
        `INSERT INTO console_sessions (tenant_id, id_hash, user_id, platform_admin_id, platform_admin_email, handoff_nonce, oidc_session_uid, amr, ip, user_agent, expires_at, authenticated_at)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8, $9, now() + make_interval(secs => $10), $11)
         ON CONFLICT DO NOTHING`,
        [hashSessionId(session.id), session.userId ?? null, session.platformAdmin?.id ?? null, session.platformAdmin?.email ?? null, session.platformAdmin?.handoffNonce ?? null,
          session.oidcSessionUid ?? null, session.amr, session.ip.slice(0, 64), session.userAgent.slice(0, 512), session.ttlSeconds, session.authenticatedAt ?? null],
      );
      return res.rowCount === 1;
    });
  }

  /**
   * The live session for a cookie value. Every console page asks, so this is a read; the
   * last-seen time is written only when it is more than a minute old.
   */
  async findLive(id: string): Promise<ConsoleSessionRecord | undefined> {
    const idHash = hashSessionId(id);
    return this.#db.withTenant(async (q) => {
      const res = await q.query<Row>(`SELECT ${COLUMNS} FROM console_sessions WHERE id_hash = $1 AND expires_at > now()`, [idHash]);
      const row = res.rows[0];
      if (!row) return undefined;
      const record = toRecord(row);
      if (record.lastSeenAt.getTime() < Date.now() - 60_000) {
        await q.query('UPDATE console_sessions SET last_seen_at = now() WHERE id_hash = $1', [idHash]);
        record.lastSeenAt = new Date();
      }
      return record;
    });
  }

  /** Leaves a sealed one-time result on the session for its next page (replacing any left before). */
  async putFlash(idHash: string, sealed: string): Promise<void> {
    await this.#db.withTenant((q) => q.query('UPDATE console_sessions SET flash_enc = $2 WHERE id_hash = $1', [idHash, sealed]));
  }

  /** Takes the session's one-time result and clears it in the same statement: two tabs cannot both get it. */
  async takeFlash(idHash: string): Promise<string | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<{ flash_enc: string }>(
        `UPDATE console_sessions c SET flash_enc = NULL
           FROM (SELECT tenant_id, id_hash, flash_enc FROM console_sessions WHERE id_hash = $1 AND flash_enc IS NOT NULL FOR UPDATE) o
          WHERE c.tenant_id = o.tenant_id AND c.id_hash = o.id_hash
          RETURNING o.flash_enc`,
        [idHash],
      );
      return res.rows[0]?.flash_enc;
    });
  }

  /** Records a re-authentication on /account: now, with these factors. */
  async markAuthenticated(idHash: string, amr: string[]): Promise<void> {
    await this.#db.withTenant((q) => q.query('UPDATE console_sessions SET authenticated_at = now(), amr = $2 WHERE id_hash = $1', [idHash, amr]));
  }

  /** A factor proven in this session after its authentication (a factor just enrolled: its first code or passkey); the time is kept. */
  async addFactor(idHash: string, factor: string): Promise<void> {
    await this.#db.withTenant((q) => q.query('UPDATE console_sessions SET amr = array_append(amr, $2) WHERE id_hash = $1 AND NOT ($2 = ANY(amr))', [idHash, factor]));
  }

  async listForUser(userId: string): Promise<ConsoleSessionRecord[]> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<Row>(`SELECT ${COLUMNS} FROM console_sessions WHERE user_id = $1 AND expires_at > now() ORDER BY last_seen_at DESC`, [userId]);
      return res.rows.map(toRecord);
    });
  }

  async delete(idHash: string): Promise<void> {
    await this.#db.withTenant((q) => q.query('DELETE FROM console_sessions WHERE id_hash = $1', [idHash]));
  }

  /** Ends one console session if it is the user's; false otherwise. */
  async deleteOfUser(idHash: string, userId: string): Promise<boolean> {
    const res = await this.#db.withTenant((q) => q.query('DELETE FROM console_sessions WHERE id_hash = $1 AND user_id = $2', [idHash, userId]));
    return res.rowCount === 1;
  }

  /** Ends every console session of a user (password reset, "sign out everywhere", user disabled); returns how many. */
  async deleteForUser(userId: string, options: { exceptIdHash?: string } = {}): Promise<number> {
    const res = await this.#db.withTenant((q) => q.query('DELETE FROM console_sessions WHERE user_id = $1 AND id_hash IS DISTINCT FROM $2', [userId, options.exceptIdHash ?? null]));
    return res.rowCount;
  }

  /** Ends the user's console sessions made from one sign-in, in the caller's transaction (the sign-in ends in it too); returns how many. */
  async deleteMadeFrom(q: Queryable, sessionUid: string, userId: string): Promise<number> {
    const res = await q.query('DELETE FROM console_sessions WHERE oidc_session_uid = $1 AND user_id = $2', [sessionUid, userId]);
    return res.rowCount;
  }
}
