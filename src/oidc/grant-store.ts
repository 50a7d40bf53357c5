/**
 * What the rest of Atrium asks of oidc-provider's rows (`oidc_payloads`) beyond the
 * adapter: an account's sign-in sessions with what `user_sessions` saw of them (device,
 * IP, last seen), ending them, withdrawing an account's tokens, and consuming a code the
 * console redeems itself. Both tables are the oidc domain's: accounts reaches them only
 * through the `SignInSessions` and `AccountGrants` interfaces it declares, implemented here
 * and wired in services.ts. Row-level security applies throughout.
 */
import type { Database, Queryable } from '../storage/database.ts';
import type { SignInSessionRow, SignInSessions } from '../accounts/user-sessions.ts';
import type { AccountGrants } from '../accounts/credential-change.ts';
import { currentContext } from '../core/request-context.ts';
import { endedSession, type EndedSession } from './backchannel-logout.ts';

interface Row {
  uid: string;
  login_ts: string | number | null;
  expires_at: Date | string | null;
  ip: string | null;
  user_agent: string | null;
  amr: string[] | null;
  payload_amr: string[] | null;
  last_seen_at: Date | string | null;
}

const date = (v: Date | string | null) => (v ? new Date(v) : null);

interface EndedRow {
  model: string;
  uid: string | null;
  payload: Record<string, unknown>;
}

/** Told of sessions ended by a query here, in the tenant in context (services.ts: logout tokens, upstream sign-ins forgotten). */
export type SessionsEndedListener = (ended: EndedSession[]) => Promise<void>;

export class GrantStore implements SignInSessions, AccountGrants {
  readonly #db: Database;
  #onEnded: SessionsEndedListener | undefined;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Who hears of sessions ended here (set once by the composition root, which builds the Providers after this store). */
  onSessionsEnded(listener: SessionsEndedListener): void {
    this.#onEnded = listener;
  }

  /** Tells the listener of the Session rows among `rows`; a failure there is logged, never the caller's. */
  #ended(rows: EndedRow[]): void {
    const ended = rows.filter((r) => r.model === 'Session' && r.uid).map((r) => endedSession(r.uid!, r.payload));
    const onEnded = this.#onEnded;
    if (ended.length === 0 || !onEnded) return;
    // Announced (back-channel logout) once the ending commits: inside a caller's transaction
    // (`AuditLog.together`), a rollback must not have told relying parties already.
    this.#db.afterCommit(() => void onEnded(ended).catch((err: unknown) => currentContext()?.log?.warn({ err }, 'could not announce ended sessions')));
  }

  /** Records a sign-in or a later use of a session; last seen is written at most once a minute. */
  async recordUse(sessionUid: string, userId: string, seen: { ip: string; userAgent: string; amr: readonly string[] }): Promise<void> {
    await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO user_sessions (tenant_id, session_uid, user_id, ip, user_agent, amr) VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, session_uid) DO UPDATE SET
           user_id = EXCLUDED.user_id, ip = EXCLUDED.ip, user_agent = EXCLUDED.user_agent, amr = EXCLUDED.amr,
           last_seen_at = CASE WHEN user_sessions.last_seen_at < now() - interval '1 minute' OR user_sessions.user_id <> EXCLUDED.user_id OR user_sessions.amr <> EXCLUDED.amr
                               THEN now() ELSE user_sessions.last_seen_at END`,
        [sessionUid, userId, seen.ip.slice(0, 64), seen.userAgent.slice(0, 512), [...seen.amr]],
      ),
    );
  }

  /**
   * The user's live oidc-provider sessions, newest activity first. Records of ended ones are
   * never listed (the query starts from live Session rows); the expiry sweeper removes them.
   */
  async listForUser(userId: string): Promise<SignInSessionRow[]> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<Row>(
        `SELECT p.uid, p.payload->>'loginTs' AS login_ts, p.expires_at, s.ip, s.user_agent, s.amr, ARRAY(SELECT jsonb_array_elements_text(COALESCE(p.payload->'amr', '[]'::jsonb))) AS payload_amr, s.last_seen_at
           FROM oidc_payloads p LEFT JOIN user_sessions s ON s.session_uid = p.uid
          WHERE p.model = 'Session' AND p.payload->>'accountId' = $1::text AND p.uid IS NOT NULL AND (p.expires_at IS NULL OR p.expires_at > now())
          ORDER BY COALESCE(s.last_seen_at, to_timestamp((p.payload->>'loginTs')::bigint)) DESC NULLS LAST`,
        [userId],
      );
      return res.rows.map((row) => ({
        uid: row.uid,
        createdAt: row.login_ts ? new Date(Number(row.login_ts) * 1000) : null,
        expiresAt: date(row.expires_at),
        ip: row.ip,
        userAgent: row.user_agent,
        amr: row.amr?.length ? row.amr : (row.payload_amr ?? []),
        lastSeenAt: date(row.last_seen_at),
      }));
    });
  }

  /**
   * Ends one sign-in session of the user in the caller's transaction (which also ends the
   * console sessions made from it): its Provider session and its record. Returns how many
   * rows went (0: the user has no such session here).
   */
  async endSession(q: Queryable, userId: string, sessionUid: string): Promise<number> {
    const res = await q.query<EndedRow>(`DELETE FROM oidc_payloads WHERE model = 'Session' AND uid = $1 AND payload->>'accountId' = $2::text RETURNING model, uid, payload`, [sessionUid, userId]);
    const recorded = await q.query('DELETE FROM user_sessions WHERE session_uid = $1 AND user_id = $2', [sessionUid, userId]);
    // In the caller's transaction: announced once it commits, never if it rolls back.
    this.#db.afterCommit(() => this.#ended(res.rows));
    return res.rowCount + recorded.rowCount;
  }

  /**
   * After a password change: ends every sign-in of the user but `keepUid` (Provider
   * sessions and their records), and withdraws every token the user's apps hold (refresh
   * and access tokens, unredeemed codes) but no grant, so the kept session's apps sign in
   * again silently. One transaction; returns how many sessions ended and tokens went.
   */
  async endAllButOne(userId: string, keepUid: string | null): Promise<{ signIns: number; tokens: number }> {
    const rows = await this.#db.withTenant(async (q) => {
      const res = await q.query<EndedRow>(
        `DELETE FROM oidc_payloads WHERE payload->>'accountId' = $1::text
           AND (model IN ('RefreshToken', 'AccessToken', 'AuthorizationCode') OR (model = 'Session' AND uid IS DISTINCT FROM $2))
         RETURNING model, uid, CASE WHEN model = 'Session' THEN payload ELSE '{}'::jsonb END AS payload`,
        [userId, keepUid],
      );
      await q.query('DELETE FROM user_sessions WHERE user_id = $1 AND session_uid IS DISTINCT FROM $2', [userId, keepUid]);
      // This transaction may be joined into the caller's: announced once that one commits.
      this.#db.afterCommit(() => this.#ended(res.rows));
      return res.rows;
    });
    const signIns = rows.filter((r) => r.model === 'Session').length;
    return { signIns, tokens: rows.length - signIns };
  }

  /**
   * Ends every sign-in of the user: Provider sessions, and the grants, refresh tokens,
   * access tokens and codes issued from them, so no relying party keeps a way back in;
   * and their records. Returns how many sessions ended.
   */
  async endAll(userId: string): Promise<number> {
    const rows = await this.#db.withTenant(async (q) => {
      const res = await q.query<EndedRow>(
        `DELETE FROM oidc_payloads WHERE model IN ('Session', 'Grant', 'RefreshToken', 'AccessToken', 'AuthorizationCode') AND payload->>'accountId' = $1::text
         RETURNING model, uid, CASE WHEN model = 'Session' THEN payload ELSE '{}'::jsonb END AS payload`,
        [userId],
      );
      await q.query('DELETE FROM user_sessions WHERE user_id = $1', [userId]);
      this.#db.afterCommit(() => this.#ended(res.rows));
      return res.rows;
    });
    return rows.filter((r) => r.model === 'Session').length;
  }

  /** Everything the Provider stored for a deleted account (sessions, grants, tokens), in the deletion's transaction. */
  async forgetAccount(q: Queryable, userId: string): Promise<void> {
    await q.query(`DELETE FROM oidc_payloads WHERE payload->>'accountId' = $1`, [userId]);
  }

  /** Marks an authorization code of this tenant used, atomically: true only for the first caller. */
  async consumeAuthorizationCode(jti: string): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query(`UPDATE oidc_payloads SET consumed_at = now() WHERE model = 'AuthorizationCode' AND id = $1 AND consumed_at IS NULL`, [jti]),
    );
    return res.rowCount === 1;
  }
}
