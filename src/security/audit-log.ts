/** Security and admin events of the tenant in context (who, what, on what, from where). */
import { randomUUID } from 'node:crypto';
import type { Database } from '../storage/database.ts';
import { currentContext } from '../tenancy/request-context.ts';

export interface AuditEntry {
  action: string;
  actor?: string | null;
  target?: string | null;
  outcome?: 'success' | 'failure';
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, unknown>;
}

export class AuditLog {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Records an event; a failure to audit is logged but never fails the user's request. */
  async record(entry: AuditEntry): Promise<void> {
    const context = currentContext();
    try {
      await this.#db.withTenant((q) =>
        q.query(
          `INSERT INTO audit_events (tenant_id, id, actor, action, target, outcome, ip, user_agent, correlation_id, details)
           VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [randomUUID(), entry.actor ?? null, entry.action, entry.target ?? null, entry.outcome ?? 'success', entry.ip ?? null, entry.userAgent?.slice(0, 512) ?? null, context?.correlationId ?? null, entry.details ?? {}],
        ),
      );
    } catch (err) {
      context?.log?.error({ err, action: entry.action }, 'could not write audit event');
    }
  }
}
