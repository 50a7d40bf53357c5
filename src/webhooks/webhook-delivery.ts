/**
 * One round of delivery, across tenants: claim due outbox rows, post each (signed, through
 * the egress guard), record the outcome. A claim is a lease: in one short transaction the
 * due rows are locked with FOR UPDATE SKIP LOCKED (another instance's round skips them,
 * never waits) and pushed `LEASE_MS` into the future, then committed; the posts happen
 * outside any transaction. An instance that dies mid-post leaves its rows to come due again
 * when the lease ends: at-least-once, with the same webhook-id, which is how the receiver
 * drops the duplicate.
 */
import { Webhook } from 'standardwebhooks';
import type { Database } from '../storage/database.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import { findEgressRefusal } from '../core/egress-guard.ts';
import type { WebhookStore } from './webhook-store.ts';

/** How long a claimed row is left alone: longer than a post can take (its timeout is 10 s). */
const LEASE_MS = 30_000;
const POST_TIMEOUT_MS = 10_000;
/** The longest wait between two attempts, whatever the attempt number. */
const MAX_BACKOFF_MS = 6 * 3_600_000;

export interface DeliveryPolicy {
  retryBaseMs: number;
  maxAttempts: number;
}

interface Claimed {
  tenant_id: string;
  id: string;
  subscription_id: string;
  payload: Record<string, unknown>;
  attempts: number;
  url: string;
  secret_enc: string;
}

/** Exponential backoff with full jitter: a random wait in [base·2^(n-1) / 2, base·2^(n-1)]. */
export function backoffMs(attempt: number, baseMs: number, random = Math.random): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export interface RoundResult {
  delivered: number;
  failed: number;
}

export class WebhookDeliverer {
  readonly #db: Database;
  readonly #store: WebhookStore;
  readonly #egress: EgressGuard;
  readonly #policy: DeliveryPolicy;

  constructor(d: { db: Database; store: WebhookStore; egress: EgressGuard; policy: DeliveryPolicy }) {
    this.#db = d.db;
    this.#store = d.store;
    this.#egress = d.egress;
    this.#policy = d.policy;
  }

  /** Claims up to `batch` due rows and posts them concurrently. */
  async round(batch = 50): Promise<RoundResult> {
    const claimed = await this.#claim(batch);
    const result: RoundResult = { delivered: 0, failed: 0 };
    await Promise.all(
      claimed.map(async (row) => {
        const error = await this.#post(row);
        await this.#report(row, error);
        if (error === undefined) result.delivered++;
        else result.failed++;
      }),
    );
    return result;
  }

  #claim(batch: number): Promise<Claimed[]> {
    return this.#db.crossTenant('webhook delivery: claim due rows', async (q) => {
      const res = await q.query<Claimed>(
        `WITH due AS (
           SELECT tenant_id, id FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= now()
           ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED)
         UPDATE webhook_outbox o SET attempts = o.attempts + 1, next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
         FROM due, webhook_subscriptions s
         WHERE o.tenant_id = due.tenant_id AND o.id = due.id AND s.tenant_id = o.tenant_id AND s.id = o.subscription_id
         RETURNING o.tenant_id, o.id, o.subscription_id, o.payload, o.attempts, s.url, s.secret_enc`,
        [batch, LEASE_MS],
      );
      return res.rows;
    });
  }

  /** Posts one message; undefined when the receiver answered 2xx, else why not (never the secret). */
  async #post(row: Claimed): Promise<string | undefined> {
    const body = JSON.stringify(row.payload);
    try {
      const signer = new Webhook(this.#store.openSecret(row.tenant_id, row.subscription_id, row.secret_enc));
      const sentAt = new Date();
      const res = await this.#egress.fetch(row.url, {
        method: 'POST',
        redirect: 'manual',
        timeoutMs: POST_TIMEOUT_MS,
        maxBytes: 64 * 1024,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Atrium-Webhooks/1',
          'webhook-id': row.id,
          'webhook-timestamp': String(Math.floor(sentAt.getTime() / 1000)),
          'webhook-signature': signer.sign(row.id, sentAt, body),
        },
        body,
      });
      await res.arrayBuffer().catch(() => undefined);
      return res.status >= 200 && res.status < 300 ? undefined : `the receiver answered ${res.status}`;
    } catch (err) {
      const refused = findEgressRefusal(err);
      return refused ? refused.message : 'the receiver could not be reached';
    }
  }

  #report(row: Claimed, error: string | undefined): Promise<unknown> {
    return this.#db.crossTenant('webhook delivery: record outcome', async (q) => {
      if (error === undefined) {
        return q.query(`UPDATE webhook_outbox SET status = 'delivered', delivered_at = now(), last_error = NULL WHERE tenant_id = $1 AND id = $2`, [row.tenant_id, row.id]);
      }
      if (row.attempts >= this.#policy.maxAttempts) {
        return q.query(`UPDATE webhook_outbox SET status = 'failed', last_error = $3 WHERE tenant_id = $1 AND id = $2`, [row.tenant_id, row.id, error]);
      }
      const wait = backoffMs(row.attempts, this.#policy.retryBaseMs);
      return q.query(`UPDATE webhook_outbox SET next_attempt_at = now() + make_interval(secs => $3::double precision / 1000), last_error = $4 WHERE tenant_id = $1 AND id = $2`, [row.tenant_id, row.id, wait, error]);
    });
  }
}
