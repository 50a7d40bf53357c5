/**
 * Deletes audit events older than their tenant's retention, periodically, across tenants
 * (the audited cross-tenant path). The retention is the tenant's
 * `security.audit_retention_days` override, else 365 days, always bounded to 1..3650, and
 * is read in the same statement (joined with tenants), so a change applies at the next sweep.
 */
import type { Logger } from 'pino';
import type { Database } from '../storage/database.ts';

export const AUDIT_RETENTION_DAYS = { default: 365, min: 1, max: 3650 } as const;

const RETENTION_DAYS = `LEAST(GREATEST(COALESCE(
    CASE WHEN jsonb_typeof(t.config #> '{security,audit_retention_days}') = 'number'
         THEN floor((t.config #>> '{security,audit_retention_days}')::numeric) END,
    ${AUDIT_RETENTION_DAYS.default}), ${AUDIT_RETENTION_DAYS.min}), ${AUDIT_RETENTION_DAYS.max})::int`;

/** One batch per statement, repeated until a batch is not full (at most `maxBatches`). Returns the number deleted. */
export async function sweepExpiredAuditEvents(db: Database, options: { batch?: number; maxBatches?: number } = {}): Promise<number> {
  const batch = options.batch ?? 5000;
  let total = 0;
  for (let i = 0; i < (options.maxBatches ?? 100); i++) {
    const deleted = await db.crossTenant('sweep audit events past retention', async (q) =>
      (
        await q.query(
          `DELETE FROM audit_events WHERE ctid IN (
             SELECT e.ctid FROM audit_events e JOIN tenants t ON t.id = e.tenant_id
             WHERE e.at < now() - make_interval(days => ${RETENTION_DAYS}) LIMIT $1)`,
          [batch],
        )
      ).rowCount,
    );
    total += deleted;
    if (deleted < batch) break;
  }
  return total;
}

export function startAuditRetentionSweeper(db: Database, log: Logger, intervalMs = 3_600_000): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredAuditEvents(db)
      .then(
        (n) => n > 0 && log.info({ deleted: n }, 'deleted audit events past retention'),
        (err: unknown) => log.warn({ err }, 'sweeping audit events past retention failed'),
      )
      .finally(() => (running = false));
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
