/**
 * Reading the audit events of the tenant in context (row-level security), newest first,
 * with keyset paging: the cursor is the (at, id) of the last event of a page, so pages
 * stay stable while new events arrive (an offset would shift under them). `at` is kept
 * to the microsecond in the cursor, as PostgreSQL stores it.
 */
import { badRequest } from '../core/errors.ts';
import type { Database } from '../storage/database.ts';

export interface AuditEvent {
  id: string;
  at: Date;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  userAgent: string | null;
  correlationId: string | null;
  details: Record<string, unknown>;
}

export interface AuditQuery {
  limit: number;
  cursor?: string;
  action?: string;
  actor?: string;
  outcome?: 'success' | 'failure';
  /** Inclusive. */
  since?: Date;
  /** Exclusive. */
  until?: Date;
}

interface AuditRow {
  id: string;
  at: Date | string;
  at_us: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  correlation_id: string | null;
  details: Record<string, unknown> | null;
}

const CURSOR = /^(\d{1,19})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

function encodeCursor(row: AuditRow): string {
  return Buffer.from(`${row.at_us}.${row.id}`).toString('base64url');
}

function decodeCursor(cursor: string): { atUs: string; id: string } {
  const match = CURSOR.exec(Buffer.from(cursor, 'base64url').toString());
  if (!match) throw badRequest('cursor is not one this API returned', 'invalid_cursor');
  return { atUs: match[1]!, id: match[2]! };
}

export class AuditStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async list(query: AuditQuery): Promise<{ events: AuditEvent[]; nextCursor: string | null }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    if (query.action) where.push(`action = ${param(query.action)}`);
    if (query.actor) where.push(`actor = ${param(query.actor)}`);
    if (query.outcome) where.push(`outcome = ${param(query.outcome)}`);
    if (query.since) where.push(`at >= ${param(query.since)}`);
    if (query.until) where.push(`at < ${param(query.until)}`);
    if (query.cursor) {
      const { atUs, id } = decodeCursor(query.cursor);
      where.push(`(at, id) < (timestamptz 'epoch' + ${param(atUs)}::bigint * interval '1 microsecond', ${param(id)}::uuid)`);
    }
    const sql = `SELECT id, at, (extract(epoch FROM at) * 1000000)::bigint::text AS at_us, actor, action, target, outcome, ip, user_agent, correlation_id, details
      FROM audit_events ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY at DESC, id DESC LIMIT ${param(query.limit + 1)}`;
    const rows = await this.#db.withTenant(async (q) => (await q.query<AuditRow>(sql, params)).rows);
    const page = rows.slice(0, query.limit);
    return {
      events: page.map((r) => ({
        id: r.id,
        at: new Date(r.at),
        actor: r.actor,
        action: r.action,
        target: r.target,
        outcome: r.outcome,
        ip: r.ip,
        userAgent: r.user_agent,
        correlationId: r.correlation_id,
        details: r.details ?? {},
      })),
      nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]!) : null,
    };
  }
}
