/** Security and admin events of the tenant in context (who, what, on what, from where). */
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import { currentContext, type Actor } from '../core/request-context.ts';

export interface AuditEntry {
  action: string;
  actor?: string | null;
  target?: string | null;
  outcome?: 'success' | 'failure';
  ip?: string | null;
  userAgent?: string | null;
  details?: Record<string, unknown>;
}

function withActor(entry: AuditEntry, actor: Actor | undefined): AuditEntry {
  if (!actor) return entry;
  const isActor = entry.actor === undefined || entry.actor === actor.id;
  return {
    ...entry,
    actor: entry.actor === undefined ? actor.id : entry.actor,
    ip: entry.ip ?? actor.ip,
    userAgent: entry.userAgent ?? actor.userAgent,
    details: isActor ? { actor_type: actor.type, ...(actor.email ? { actor_email: actor.email } : {}), ...entry.details } : entry.details,
  };
}

/**
 * Told of every event in the transaction that records it (webhooks/ implements it: its
 * outbox rows then commit exactly when the event does). Declared here because the follower
 * sits above the audit log; wired in services.ts.
 */
export interface AuditFollower {
  recorded(q: Queryable, entry: AuditEntry): Promise<void>;
}

export class AuditLog {
  readonly #db: Database;
  #follower: AuditFollower | undefined;
  constructor(db: Database) {
    this.#db = db;
  }

  follow(follower: AuditFollower): void {
    this.#follower = follower;
  }

  /**
   * Runs a change and the events it records in one transaction of the tenant in context:
   * the store calls and `record` inside join it, so the change, its audit event and its
   * webhook outbox rows commit or roll back together.
   */
  together<T>(fn: () => Promise<T>): Promise<T> {
    return this.#db.withTenant(() => fn());
  }

  /**
   * Runs `fn` (a mail, a notice to other instances) once the change just made has committed:
   * now, awaited, when no transaction is open here; inside a caller's open transaction (an
   * outer `together`), after its commit and never if it rolls back.
   */
  async whenCommitted(fn: () => Promise<void>): Promise<void> {
    if (!this.#db.joinsTenantTransaction()) return fn();
    this.#db.afterCommit(() => void fn().catch((err: unknown) => currentContext()?.log?.warn({ err }, 'after-commit work failed')));
  }

  /**
   * Records an event; a failure to audit is logged but never fails the user's request, except
   * inside `together`, where the change cannot commit without its event.
   * Without an explicit `actor`, ip or user agent the request's actor (set by the door the
   * request came through) fills them in, and its kind and email go into the details.
   */
  async record(input: AuditEntry): Promise<void> {
    const context = currentContext();
    const entry = withActor(input, context?.actor);
    try {
      await this.#db.withTenant(async (q) => {
        await q.query(
          `INSERT INTO audit_events (tenant_id, id, actor, action, target, outcome, ip, user_agent, correlation_id, details)
           VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8, $9)`,
          [randomUUID(), entry.actor ?? null, entry.action, entry.target ?? null, entry.outcome ?? 'success', entry.ip ?? null, entry.userAgent?.slice(0, 512) ?? null, context?.correlationId ?? null, entry.details ?? {}],
        );
        await this.#follower?.recorded(q, entry);
      });
    } catch (err) {
      // Joined to the change's transaction (`together`), the failed insert has aborted it: its
      // COMMIT would silently roll back, so the change fails with its audit event, not quietly.
      if (this.#db.joinsTenantTransaction()) throw err;
      context?.log?.error({ err, action: entry.action }, 'could not write audit event');
    }
  }
}
