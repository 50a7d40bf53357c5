/**
 * Webhooks in the management API: a tenant's under /tenants/:slug/webhooks (its own token
 * or a platform token with the cross-tenant scopes), the platform's (tenant lifecycle) under
 * /platform/webhooks (platform tokens with the tenants scopes). The signing secret is in the
 * creation's answer only.
 */
import type { Context, Middleware, Next } from 'koa';
import { z } from 'zod';
import { notFound } from '../core/errors.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { PLATFORM_TENANT } from '../tenancy/slug.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import type { WebhookDelivery, WebhookSubscription } from '../webhooks/webhook-store.ts';
import type { PlatformScope } from '../oidc/api-resource.ts';
import { defineRoute, type ApiRoutes, type RouteSpec } from './route-contract.ts';
import { webhookDeliverySchema, webhookSchema } from './api-schemas.ts';
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

/** The seven webhook routes, declared under `base` (a tenant's or the platform's) with its scopes. */
function webhookRoutes(base: string, prefix: 'Tenant' | 'Platform', read: PlatformScope, write: PlatformScope) {
  const tag = 'Webhooks';
  const whose = prefix === 'Tenant' ? 'the tenant\'s' : 'the platform\'s (tenant lifecycle)';
  return {
    list: defineRoute({
      method: 'get', path: base, operationId: `list${prefix}Webhooks`, tag, summary: `List ${whose} webhook subscriptions`, scope: read,
      responses: { 200: { description: 'The subscriptions.', schema: z.object({ webhooks: z.array(webhookSchema) }) } },
    }),
    create: defineRoute({
      method: 'post', path: base, operationId: `create${prefix}Webhook`, tag, summary: `Subscribe an endpoint to ${whose} events`,
      description: 'The signing secret (Standard Webhooks, `whsec_…`) is in this answer only.',
      scope: write, body: webhookCreateSchema,
      responses: { 201: { description: 'The subscription and its secret.', schema: webhookSchema.extend({ secret: z.string() }) } },
    }),
    deliveries: defineRoute({
      method: 'get', path: `${base}/deliveries`, operationId: `list${prefix}WebhookDeliveries`, tag, summary: `${prefix} webhook deliveries, newest first`,
      scope: read, query: deliveryQuerySchema,
      responses: { 200: { description: 'The deliveries.', schema: z.object({ deliveries: z.array(webhookDeliverySchema) }) } },
    }),
    replay: defineRoute({
      method: 'post', path: `${base}/deliveries/:deliveryId/replay`, operationId: `replay${prefix}WebhookDelivery`, tag, summary: 'Send a delivery again',
      scope: write,
      responses: { 202: { description: 'Queued.', schema: z.object({ id: z.string(), status: z.literal('pending') }) } },
    }),
    get: defineRoute({
      method: 'get', path: `${base}/:id`, operationId: `get${prefix}Webhook`, tag, summary: 'Read a subscription with its recent deliveries',
      scope: read, query: deliveryQuerySchema,
      responses: { 200: { description: 'The subscription and its deliveries.', schema: webhookSchema.extend({ deliveries: z.array(webhookDeliverySchema) }) } },
    }),
    update: defineRoute({
      method: 'patch', path: `${base}/:id`, operationId: `update${prefix}Webhook`, tag, summary: 'Change a subscription',
      scope: write, body: webhookPatchSchema,
      responses: { 200: { description: 'The subscription as updated.', schema: webhookSchema } },
    }),
    remove: defineRoute({
      method: 'delete', path: `${base}/:id`, operationId: `delete${prefix}Webhook`, tag, summary: 'Delete a subscription',
      scope: write,
      responses: { 204: { description: 'Deleted.' } },
    }),
  } satisfies Record<string, RouteSpec<z.ZodType | undefined, z.ZodType | undefined>>;
}

function mountUnder(routes: ApiRoutes, spec: ReturnType<typeof webhookRoutes>, enter: Middleware, deps: WebhookRouteDeps): void {
  const { webhooks } = deps;
  routes.add(spec.list, [enter], async function listWebhooks(ctx) {
    ctx.body = { webhooks: (await webhooks.list()).map(webhookJson) };
  });
  routes.add(spec.create, [enter], async function createWebhook(ctx, { body: input }) {
    const { subscription, secret } = await webhooks.create({ url: input.url, eventTypes: input.event_types, description: input.description });
    ctx.status = 201;
    ctx.body = { ...webhookJson(subscription), secret };
  });
  routes.add(spec.deliveries, [enter], async function listDeliveries(ctx, { query }) {
    ctx.body = { deliveries: (await webhooks.deliveries(query)).map(deliveryJson) };
  });
  routes.add(spec.replay, [enter], async function replayDelivery(ctx) {
    await webhooks.replay(idParam(ctx, 'deliveryId', MESSAGE_ID, 'delivery'));
    ctx.status = 202;
    ctx.body = { id: ctx.params.deliveryId, status: 'pending' };
  });
  routes.add(spec.get, [enter], async function getWebhook(ctx, { query }) {
    const id = idParam(ctx, 'id', UUID, 'webhook');
    ctx.body = { ...webhookJson(await webhooks.get(id)), deliveries: (await webhooks.deliveries({ ...query, subscriptionId: id })).map(deliveryJson) };
  });
  routes.add(spec.update, [enter], async function updateWebhook(ctx, { body: input }) {
    ctx.body = webhookJson(await webhooks.update(idParam(ctx, 'id', UUID, 'webhook'), { url: input.url, eventTypes: input.event_types, description: input.description, enabled: input.enabled }));
  });
  routes.add(spec.remove, [enter], async function deleteWebhook(ctx) {
    await webhooks.delete(idParam(ctx, 'id', UUID, 'webhook'));
    ctx.status = 204;
  });
}

export const tenantWebhookRoutes = webhookRoutes('/tenants/:slug/webhooks', 'Tenant', 'atrium:cross-tenant:read', 'atrium:cross-tenant:write');
export const platformWebhookRoutes = webhookRoutes('/platform/webhooks', 'Platform', 'atrium:tenants:read', 'atrium:tenants:write');

export function mountWebhookRoutes(routes: ApiRoutes, deps: WebhookRouteDeps): void {
  mountUnder(routes, tenantWebhookRoutes, targetTenant(deps.store), deps);
  mountUnder(routes, platformWebhookRoutes, platformTenant(deps.store), deps);
}
