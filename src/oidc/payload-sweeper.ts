/** Deletes expired rows across tenants, periodically: oidc-provider's, and the short-lived rows kept beside them. */
import type { Logger } from 'pino';
import type { Database } from '../storage/database.ts';

// Rows are kept a little past expiry: oidc-provider reads consumed refresh tokens and codes
// with clock tolerance to detect reuse.
const GRACE = "interval '5 minutes'";

export async function sweepExpiredPayloads(db: Database, batch = 5000): Promise<number> {
  return db.crossTenant('sweep expired oidc payloads', async (q) => {
    const res = await q.query(
      `DELETE FROM oidc_payloads WHERE ctid IN (
         SELECT ctid FROM oidc_payloads WHERE expires_at < now() - ${GRACE} LIMIT $1)`,
      [batch],
    );
    // Console sessions (web/console-session-store.ts) expire with no grace.
    const consoleSessions = await q.query('DELETE FROM console_sessions WHERE expires_at < now()');
    // Device/IP records of sign-in sessions (web/user-session-store.ts) outlive nothing: gone with their session.
    const sessionRecords = await q.query(
      `DELETE FROM user_sessions s WHERE s.last_seen_at < now() - interval '1 hour' AND NOT EXISTS (
         SELECT 1 FROM oidc_payloads p WHERE p.tenant_id = s.tenant_id AND p.model = 'Session' AND p.uid = s.session_uid)`,
    );
    // Pending upstream sign-ins (federation/) and emailed link tokens (account-recovery/) past their life.
    const loginStates = await q.query('DELETE FROM federation_login_states WHERE expires_at < now()');
    const linkTokens = await q.query(`DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day'`);
    return res.rowCount + consoleSessions.rowCount + sessionRecords.rowCount + loginStates.rowCount + linkTokens.rowCount;
  });
}

export function startPayloadSweeper(db: Database, log: Logger, intervalMs = 60_000): { stop(): void } {
  const timer = setInterval(() => {
    sweepExpiredPayloads(db).then(
      (n) => n > 0 && log.debug({ deleted: n }, 'swept expired oidc payloads'),
      (err: unknown) => log.warn({ err }, 'sweeping expired oidc payloads failed'),
    );
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
