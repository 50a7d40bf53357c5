/**
 * Webhook subscriptions and the outbox, for the tenant in context (the platform's own
 * subscriptions are the platform tenant's). Secrets are sealed per tenant and subscription
 * and opened only by the delivery worker; nothing here returns one to a caller.
 */
import { randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { currentTenantId } from '../core/request-context.ts';

export interface WebhookSubscription {
  id: string;
  url: string;
  eventTypes: string[];
  description: string | null;
  /** Off: no new outbox rows for it (rows already queued are still delivered). */
  enabled: boolean;
  createdAt: string;
}

export interface WebhookDelivery {
  id: string;
  subscriptionId: string;
  eventType: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
  nextAttemptAt: string;
}

/** Delivered rows are kept a week for the record (failed ones until replayed or their subscription goes); runtime/expiry-sweeper.ts removes them. */
export const WEBHOOK_EXPIRING = [{ table: 'webhook_outbox', expired: "status = 'delivered' AND delivered_at < now() - interval '7 days'" }] as const;

export const secretContext = (tenantId: string, subscriptionId: string) => `webhook-secret:${tenantId}:${subscriptionId}`;

const SUBSCRIPTION_COLUMNS = 'id, url, event_types, description, enabled, created_at';
type SubscriptionRow = { id: string; url: string; event_types: string[]; description: string | null; enabled: boolean; created_at: Date };
const toSubscription = (r: SubscriptionRow): WebhookSubscription => ({ id: r.id, url: r.url, eventTypes: r.event_types, description: r.description, enabled: r.enabled, createdAt: new Date(r.created_at).toISOString() });

const DELIVERY_COLUMNS = 'id, subscription_id, event_type, status, attempts, last_error, created_at, delivered_at, next_attempt_at';
type DeliveryRow = { id: string; subscription_id: string; event_type: string; status: WebhookDelivery['status']; attempts: number; last_error: string | null; created_at: Date; delivered_at: Date | null; next_attempt_at: Date };
const toDelivery = (r: DeliveryRow): WebhookDelivery => ({
  id: r.id,
  subscriptionId: r.subscription_id,
  eventType: r.event_type,
  status: r.status,
  attempts: r.attempts,
  lastError: r.last_error,
  createdAt: new Date(r.created_at).toISOString(),
  deliveredAt: r.delivered_at ? new Date(r.delivered_at).toISOString() : null,
  nextAttemptAt: new Date(r.next_attempt_at).toISOString(),
});

export class WebhookStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  async create(input: { url: string; eventTypes: string[]; description: string | null; secret: string }): Promise<WebhookSubscription> {
    const id = randomUUID();
    return this.#db.withTenant(async (q) => {
      const tenantId = currentTenantId()!; // withTenant has checked it is there
      const res = await q.query<SubscriptionRow>(
        `INSERT INTO webhook_subscriptions (tenant_id, id, url, event_types, description, secret_enc)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5) RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [id, input.url, input.eventTypes, input.description, this.#box.seal(input.secret, secretContext(tenantId, id))],
      );
      return toSubscription(res.rows[0]!);
    });
  }

  list(): Promise<WebhookSubscription[]> {
    return this.#db.withTenant(async (q) => (await q.query<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions ORDER BY created_at, id`)).rows.map(toSubscription));
  }

  get(id: string): Promise<WebhookSubscription | undefined> {
    return this.#db.withTenant(async (q) => {
      const rows = (await q.query<SubscriptionRow>(`SELECT ${SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1`, [id])).rows;
      return rows[0] ? toSubscription(rows[0]) : undefined;
    });
  }

  update(id: string, changes: { url?: string; eventTypes?: string[]; description?: string | null; enabled?: boolean }): Promise<WebhookSubscription | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<SubscriptionRow>(
        `UPDATE webhook_subscriptions SET url = coalesce($2, url), event_types = coalesce($3, event_types),
           description = CASE WHEN $4::boolean THEN $5 ELSE description END, enabled = coalesce($6, enabled)
         WHERE id = $1 RETURNING ${SUBSCRIPTION_COLUMNS}`,
        [id, changes.url ?? null, changes.eventTypes ?? null, changes.description !== undefined, changes.description ?? null, changes.enabled ?? null],
      );
      return res.rows[0] ? toSubscription(res.rows[0]) : undefined;
    });
  }

  delete(id: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => (await q.query('DELETE FROM webhook_subscriptions WHERE id = $1', [id])).rowCount > 0);
  }

  /** Deliveries of one subscription (or all), newest first; `status` narrows them. */
  deliveries(filter: { subscriptionId?: string; status?: WebhookDelivery['status']; limit?: number }): Promise<WebhookDelivery[]> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<DeliveryRow>(
        `SELECT ${DELIVERY_COLUMNS} FROM webhook_outbox
         WHERE ($1::uuid IS NULL OR subscription_id = $1) AND ($2::text IS NULL OR status = $2) ORDER BY created_at DESC, id LIMIT $3`,
        [filter.subscriptionId ?? null, filter.status ?? null, filter.limit ?? 100],
      );
      return res.rows.map(toDelivery);
    });
  }

  /** Makes a failed delivery due again with a fresh attempt budget; the webhook-id stays. */
  replay(deliveryId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query(`UPDATE webhook_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(), last_error = NULL WHERE id = $1 AND status = 'failed'`, [deliveryId]);
      return res.rowCount > 0;
    });
  }

  /**
   * Writes one outbox row per subscription of the context's tenant that wants `type`, on `q`:
   * the caller's transaction, so the rows commit or roll back with the change.
   */
  async enqueue(q: Queryable, type: string, data: Record<string, unknown>, at: Date = new Date()): Promise<number> {
    return insertOutboxRows(q, '', [type, { type, timestamp: at.toISOString(), data }]);
  }

  /** As `enqueue`, for the platform tenant's subscriptions, in an open platform transaction (tenant lifecycle). */
  async enqueuePlatform(platformTenantId: string, type: string, data: Record<string, unknown>, at: Date = new Date()): Promise<number> {
    return this.#db.crossTenant('webhook outbox: platform event', (q) => insertOutboxRows(q, 'AND tenant_id = $3', [type, { type, timestamp: at.toISOString(), data }, platformTenantId]));
  }

  openSecret(tenantId: string, subscriptionId: string, sealed: string): string {
    return this.#box.open(sealed, secretContext(tenantId, subscriptionId));
  }
}

/**
 * One statement for every enabled subscriber of `$1` (event type; `$2` the payload): the same payload
 * to each, under a webhook-id of its own: `msg_` and a UUID, unique per (event,
 * subscription) and kept across retries.
 */
async function insertOutboxRows(q: Queryable, narrower: string, params: unknown[]): Promise<number> {
  const res = await q.query(
    `INSERT INTO webhook_outbox (tenant_id, id, subscription_id, event_type, payload)
     SELECT tenant_id, 'msg_' || replace(gen_random_uuid()::text, '-', ''), id, $1, $2 FROM webhook_subscriptions
     WHERE $1 = ANY (event_types) AND enabled ${narrower}`,
    params,
  );
  return res.rowCount;
}
