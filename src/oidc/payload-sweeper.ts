/** Deletes expired oidc-provider rows (sessions, codes, tokens) across tenants, periodically. */
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
    return res.rowCount;
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
