/** Deletes expired rows across tenants, periodically: oidc-provider's, and the short-lived rows of the other domains. */
import type { Logger } from 'pino';
import type { Database } from '../storage/database.ts';
import { ACCOUNTS_EXPIRING } from '../accounts/expiring-rows.ts';
import { OIDC_EXPIRING } from '../oidc/expiring-rows.ts';
import { FEDERATED_SESSIONS_EXPIRING } from '../federation/federated-session-store.ts';
import { FEDERATION_EXPIRING } from '../federation/login-state-store.ts';
import { ACCOUNT_TOKENS_EXPIRING } from '../account-recovery/account-token-store.ts';
import { WEBHOOK_EXPIRING } from '../webhooks/webhook-store.ts';

/** A table of one domain and the condition on its rows that says they have expired. */
export interface ExpiringRows {
  table: string;
  expired: string;
}

/**
 * What is swept: each domain declares its own expiring tables, as a condition on each (it
 * deletes only its own rows), and this sweeper, above every domain, runs them in order.
 * Rows are deleted in batches of `batch` per table and run (the next run takes the rest),
 * by indexes on age (migration 008).
 */
const SWEPT: readonly ExpiringRows[] = [...OIDC_EXPIRING, ...ACCOUNTS_EXPIRING, ...FEDERATION_EXPIRING, ...FEDERATED_SESSIONS_EXPIRING, ...ACCOUNT_TOKENS_EXPIRING, ...WEBHOOK_EXPIRING];

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
