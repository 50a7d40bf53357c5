/**
 * Ends a user's sign-ins after a password reset: the tenant's oidc-provider sessions of that
 * account and its refresh tokens (so no relying party keeps a way back in), and the
 * sessions of Atrium's own pages.
 */
import type { Database } from '../storage/database.ts';
import type { ConsoleSessionStore } from '../web/console-session-store.ts';

export class SessionRevoker {
  readonly #db: Database;
  readonly #consoleSessions: ConsoleSessionStore;

  constructor(db: Database, consoleSessions: ConsoleSessionStore) {
    this.#db = db;
    this.#consoleSessions = consoleSessions;
  }

  /** For the tenant in context; returns how many provider sessions ended. */
  async endAllSessions(userId: string): Promise<number> {
    const ended = await this.#db.withTenant(async (q) => {
      const res = await q.query(`DELETE FROM oidc_payloads WHERE model IN ('Session', 'RefreshToken') AND payload->>'accountId' = $1 RETURNING model`, [userId]);
      return (res.rows as { model: string }[]).filter((r) => r.model === 'Session').length;
    });
    await this.#consoleSessions.deleteForUser(userId);
    return ended;
  }
}
