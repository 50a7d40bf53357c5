/** Deletes expired rows across tenants, periodically: oidc-provider's, and the short-lived rows kept beside them. */
import type { Logger } from 'pino';
import type { Database } from '../storage/database.ts';

// Rows are kept a little past expiry: oidc-provider reads consumed refresh tokens and codes
// with clock tolerance to detect reuse.
const GRACE = "interval '5 minutes'";

/**
 * What is swept, each as a condition on its table: rows are deleted in batches of `batch`
 * per table and run (the next run takes the rest), by indexes on age (migration 008).
 */
const SWEPT: readonly { table: string; expired: string }[] = [
  { table: 'oidc_payloads', expired: `expires_at < now() - ${GRACE}` },
  // Console sessions (web/console-session-store.ts) expire with no grace.
  { table: 'console_sessions', expired: 'expires_at < now()' },
  // Used platform hand-off nonces (web/console-handoff.ts): needed only while the hand-off could still be redeemed.
  { table: 'console_handoff_nonces', expired: 'expires_at < now()' },
  // Device/IP records of sign-in sessions (web/user-session-store.ts) outlive nothing: gone with their session.
  {
    table: 'user_sessions',
    expired: `last_seen_at < now() - interval '1 hour' AND NOT EXISTS (
      SELECT 1 FROM oidc_payloads p WHERE p.tenant_id = user_sessions.tenant_id AND p.model = 'Session' AND p.uid = user_sessions.session_uid)`,
  },
  // Pending upstream sign-ins (federation/) and emailed link tokens (account-recovery/) past their life.
  { table: 'federation_login_states', expired: 'expires_at < now()' },
  { table: 'account_tokens', expired: `expires_at < now() - interval '1 day'` },
  // Sign-in failure counts (accounts/lockout.ts): a day without failures forgets an account's history.
  { table: 'login_lockouts', expired: `updated_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())` },
];

export async function sweepExpiredPayloads(db: Database, batch = 5000): Promise<number> {
  return db.crossTenant('sweep expired rows', async (q) => {
    let deleted = 0;
    for (const { table, expired } of SWEPT) {
      const res = await q.query(`DELETE FROM ${table} WHERE ctid IN (SELECT ctid FROM ${table} WHERE ${expired} LIMIT $1)`, [batch]);
      deleted += res.rowCount;
    }
    return deleted;
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
