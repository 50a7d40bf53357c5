/**
 * Webhooks in the management API: a tenant's under /tenants/:slug/webhooks (its own token
 * or a platform token with the cross-tenant scopes), the platform's (tenant lifecycle) under
 * /platform/webhooks (platform tokens with the tenants scopes). The signing secret is in the
 * creation's answer only.
 */
import type Router from '@koa/router';
import type { Context, Middleware, Next } from 'koa';
import { z } from 'zod';
import { notFound } from '../core/errors.ts';
import { parseInput, queryObject } from '../core/validation.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { PLATFORM_TENANT } from '../tenancy/slug.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import type { WebhookDelivery, WebhookSubscription } from '../webhooks/webhook-store.ts';
import { readJson } from '../web/body.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';

export interface WebhookRouteDeps {
  store: TenantStore;
  webhooks: WebhookService;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MESSAGE_ID = /^msg_[0-9a-f]{32}$/;

export const webhookCreateSchema = z.strictObject({
  url: z.string().max(2048),
  event_types: z.array(z.string().max(64)).min(1).max(20),
  description: z.string().trim().max(200).nullable().optional(),
});
export const webhookPatchSchema = z.strictObject({
  url: z.string().max(2048).optional(),
  event_types: z.array(z.string().max(64)).min(1).max(20).optional(),
  description: z.string().trim().max(200).nullable().optional(),
  enabled: z.boolean().optional(),
});
export const deliveryQuerySchema = z.strictObject({
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function webhookJson(s: WebhookSubscription) {
  return { id: s.id, url: s.url, event_types: s.eventTypes, description: s.description, enabled: s.enabled, created_at: s.createdAt };
}

export function deliveryJson(d: WebhookDelivery) {
  return {
    id: d.id,
    webhook_id: d.subscriptionId,
    event_type: d.eventType,
    status: d.status,
    attempts: d.attempts,
    last_error: d.lastError,
    created_at: d.createdAt,
    delivered_at: d.deliveredAt,
    next_attempt_at: d.status === 'pending' ? d.nextAttemptAt : null,
  };
}

function idParam(ctx: Context, name: string, pattern: RegExp, what: string): string {
  const id = String(ctx.params[name] ?? '');
  if (!pattern.test(id)) throw notFound(`no such ${what}`);
  return id;
}

/** Makes the platform tenant the request's tenant: its subscriptions are the platform's. */
function platformTenant(store: TenantStore) {
  return async function enterPlatformTenant(ctx: Context, next: Next): Promise<void> {
    const tenant = await store.findBySlug(PLATFORM_TENANT);
    if (!tenant) throw notFound('no platform tenant');
    ctx.state.context.enterTenant(tenant);
    await next();
  };
}

function mountUnder(router: Router, base: string, read: Middleware[], write: Middleware[], deps: WebhookRouteDeps): void {
  const { webhooks } = deps;
  router.get(base, ...read, async function listWebhooks(ctx) {
    ctx.body = { webhooks: (await webhooks.list()).map(webhookJson) };
  });
  router.post(base, ...write, async function createWebhook(ctx) {
    const input = parseInput(webhookCreateSchema, await readJson(ctx));
    const { subscription, secret } = await webhooks.create({ url: input.url, eventTypes: input.event_types, description: input.description });
    ctx.status = 201;
    ctx.body = { ...webhookJson(subscription), secret };
  });
  router.get(`${base}/deliveries`, ...read, async function listDeliveries(ctx) {
    const query = parseInput(deliveryQuerySchema, queryObject(ctx.query));
    ctx.body = { deliveries: (await webhooks.deliveries(query)).map(deliveryJson) };
  });
  router.post(`${base}/deliveries/:deliveryId/replay`, ...write, async function replayDelivery(ctx) {
    await webhooks.replay(idParam(ctx, 'deliveryId', MESSAGE_ID, 'delivery'));
    ctx.status = 202;
    ctx.body = { id: ctx.params.deliveryId, status: 'pending' };
  });
  router.get(`${base}/:id`, ...read, async function getWebhook(ctx) {
    const id = idParam(ctx, 'id', UUID, 'webhook');
    const query = parseInput(deliveryQuerySchema, queryObject(ctx.query));
    ctx.body = { ...webhookJson(await webhooks.get(id)), deliveries: (await webhooks.deliveries({ ...query, subscriptionId: id })).map(deliveryJson) };
  });
  router.patch(`${base}/:id`, ...write, async function updateWebhook(ctx) {
    const input = parseInput(webhookPatchSchema, await readJson(ctx));
    ctx.body = webhookJson(await webhooks.update(idParam(ctx, 'id', UUID, 'webhook'), { url: input.url, eventTypes: input.event_types, description: input.description, enabled: input.enabled }));
  });
  router.delete(`${base}/:id`, ...write, async function deleteWebhook(ctx) {
    await webhooks.delete(idParam(ctx, 'id', UUID, 'webhook'));
    ctx.status = 204;
  });
}

export function mountWebhookRoutes(router: Router, deps: WebhookRouteDeps): void {
  const target = targetTenant(deps.store);
  mountUnder(router, '/tenants/:slug/webhooks', [requireScope('atrium:cross-tenant:read'), target], [requireScope('atrium:cross-tenant:write'), target], deps);
  const platform = platformTenant(deps.store);
  mountUnder(router, '/platform/webhooks', [requireScope('atrium:tenants:read'), platform], [requireScope('atrium:tenants:write'), platform], deps);
}
