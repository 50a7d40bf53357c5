/**
 * Webhook subscriptions of the tenant in context (the platform's are the platform tenant's):
 * create with a secret shown once, change, delete, replay a failed delivery; each audited in
 * the change's transaction. Also where events enter the outbox: as the audit log's follower
 * (tenant events) and as the tenant service's lifecycle listener (platform events).
 */
import { randomBytes } from 'node:crypto';
import type { Queryable } from '../storage/database.ts';
import type { Database } from '../storage/database.ts';
import type { AuditEntry, AuditFollower, AuditLog } from '../audit/audit-log.ts';
import { currentTenantId } from '../core/request-context.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { RESERVED_TENANT_IDS, PLATFORM_TENANT } from '../tenancy/slug.ts';
import type { TenantLifecycleListener } from '../tenancy/tenant-service.ts';
import { eventData, tenantEventFor, unknownEventTypes } from './webhook-events.ts';
import type { WebhookDelivery, WebhookStore, WebhookSubscription } from './webhook-store.ts';

const PLATFORM_TENANT_ID = RESERVED_TENANT_IDS[PLATFORM_TENANT];
const MAX_URL_LENGTH = 2048;

export type WebhookScope = 'tenant' | 'platform';

/** A `whsec_` secret: 32 random bytes, base64, as Standard Webhooks libraries expect. */
export const generateWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export interface WebhookInput {
  url?: string;
  eventTypes?: string[];
  description?: string | null;
  /** Off: the subscription gets no new events until switched on again. */
  enabled?: boolean;
}

export class WebhookService implements AuditFollower, TenantLifecycleListener {
  readonly #db: Database;
  readonly #store: WebhookStore;
  readonly #audit: AuditLog;
  readonly #allowHttp: boolean;
  #wake: () => void = () => {};

  /** `allowHttp`: development only, like the egress guard's loopback; elsewhere receivers are https. */
  constructor(d: { db: Database; store: WebhookStore; audit: AuditLog; allowHttp: boolean }) {
    this.#db = d.db;
    this.#store = d.store;
    this.#audit = d.audit;
    this.#allowHttp = d.allowHttp;
  }

  /** What to call once new outbox rows have committed (the local worker's wake). */
  onEnqueued(wake: () => void): void {
    this.#wake = wake;
  }

  #scope(): WebhookScope {
    return currentTenantId() === PLATFORM_TENANT_ID ? 'platform' : 'tenant';
  }

  #check(input: WebhookInput): void {
    if (input.url !== undefined) {
      let url: URL;
      try {
        url = new URL(input.url);
      } catch {
        throw badRequest('url: must be an absolute URL', 'invalid_webhook');
      }
      const schemes = this.#allowHttp ? ['https:', 'http:'] : ['https:'];
      if (!schemes.includes(url.protocol)) throw badRequest(`url: must be ${this.#allowHttp ? 'an http or https' : 'an https'} URL`, 'invalid_webhook');
      if (url.username || url.password) throw badRequest('url: must not carry credentials', 'invalid_webhook');
      if (input.url.length > MAX_URL_LENGTH) throw badRequest(`url: must be at most ${MAX_URL_LENGTH} characters`, 'invalid_webhook');
    }
    if (input.eventTypes !== undefined) {
      const unknown = unknownEventTypes(input.eventTypes, this.#scope());
      if (unknown.length) throw badRequest(`event_types: unknown event types for this ${this.#scope()}: ${unknown.join(', ')}`, 'invalid_webhook');
      if (!input.eventTypes.length) throw badRequest('event_types: name at least one event type', 'invalid_webhook');
    }
  }

  async create(input: Required<Pick<WebhookInput, 'url' | 'eventTypes'>> & WebhookInput): Promise<{ subscription: WebhookSubscription; secret: string }> {
    this.#check(input);
    const secret = generateWebhookSecret();
    const subscription = await this.#audit.together(async () => {
      const created = await this.#store.create({ url: input.url, eventTypes: [...new Set(input.eventTypes)], description: input.description ?? null, secret });
      await this.#audit.record({ action: 'webhook.created', target: created.id, details: { url: created.url, event_types: created.eventTypes } });
      return created;
    });
    return { subscription, secret };
  }

  async update(id: string, input: WebhookInput): Promise<WebhookSubscription> {
    this.#check(input);
    return this.#audit.together(async () => {
      const updated = await this.#store.update(id, { ...input, eventTypes: input.eventTypes && [...new Set(input.eventTypes)] });
      if (!updated) throw notFound('no such webhook');
      await this.#audit.record({ action: 'webhook.updated', target: id, details: { fields: Object.keys(input).filter((k) => input[k as keyof WebhookInput] !== undefined) } });
      return updated;
    });
  }

  async delete(id: string): Promise<void> {
    await this.#audit.together(async () => {
      if (!(await this.#store.delete(id))) throw notFound('no such webhook');
      await this.#audit.record({ action: 'webhook.deleted', target: id });
    });
  }

  async replay(deliveryId: string): Promise<void> {
    await this.#audit.together(async () => {
      if (!(await this.#store.replay(deliveryId))) throw notFound('no failed delivery with this id');
      await this.#audit.record({ action: 'webhook.delivery_replayed', target: deliveryId });
    });
    this.#wake();
  }

  list(): Promise<WebhookSubscription[]> {
    return this.#store.list();
  }

  async get(id: string): Promise<WebhookSubscription> {
    const found = await this.#store.get(id);
    if (!found) throw notFound('no such webhook');
    return found;
  }

  deliveries(filter: { subscriptionId?: string; status?: WebhookDelivery['status']; limit?: number }): Promise<WebhookDelivery[]> {
    return this.#store.deliveries(filter);
  }

  /** AuditFollower: an audited change of a tenant becomes its subscribers' outbox rows, in the audit event's transaction. */
  async recorded(q: Queryable, entry: AuditEntry): Promise<void> {
    const type = tenantEventFor(entry);
    const tenantId = currentTenantId();
    if (!type || !tenantId || tenantId === PLATFORM_TENANT_ID) return;
    if ((await this.#store.enqueue(q, type, eventData(tenantId, entry))) > 0) this.#db.afterCommit(this.#wake);
  }

  /** TenantLifecycleListener: called inside the tenant change's platform transaction. */
  async tenantChanged(type: 'tenant.created' | 'tenant.updated' | 'tenant.deleted', tenant: { id: string; slug: string; name: string; status?: string }, details: Record<string, unknown> = {}): Promise<void> {
    const data = { tenant_id: tenant.id, slug: tenant.slug, name: tenant.name, ...(tenant.status ? { status: tenant.status } : {}), ...details };
    if ((await this.#store.enqueuePlatform(PLATFORM_TENANT_ID, type, data)) > 0) this.#db.afterCommit(this.#wake);
  }
}
