/**
 * /admin/webhooks: the tenant's webhook subscriptions and their deliveries, through the same
 * WebhookService as the management API (so the same checks, the same audit events, the same
 * row-level security: another tenant's subscription or delivery is simply not found here).
 * Creating a subscription ends in a 303 to its page (post/redirect/get); its signing secret
 * rides there in the console session's sealed flash and appears exactly once.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest, notFound } from '../../core/errors.ts';
import { TENANT_EVENT_TYPES } from '../../webhooks/webhook-events.ts';
import type { WebhookDelivery, WebhookSubscription } from '../../webhooks/webhook-store.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { doneNotice, formError, renderAdminPage, requireAdmin, seeOther, type AdminDeps } from './admin-console.ts';

const NOTICES = ['webhook_updated', 'webhook_deleted', 'webhook_replayed'] as const;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MESSAGE_ID = /^msg_[0-9a-f]{32}$/;
const RECENT_DELIVERIES = 50;
const STATUSES = ['pending', 'delivered', 'failed'] as const;

/** What the form sent, kept as typed so a refused form comes back filled in. */
interface FormValues {
  url: string;
  description: string;
  eventTypes: string[];
  enabled: boolean;
}

function formValues(form: URLSearchParams): FormValues {
  return {
    url: (form.get('url') ?? '').trim(),
    description: (form.get('description') ?? '').trim(),
    eventTypes: [...new Set(form.getAll('event_types'))],
    enabled: form.get('enabled') === 'on',
  };
}

/** The service's input from the form; the service checks the URL and the event types. */
function serviceInput(values: FormValues) {
  if (values.description.length > 200) throw badRequest('description: at most 200 characters', 'invalid_webhook');
  if (!values.url) throw badRequest('url: the receiver URL is required', 'invalid_webhook');
  return { url: values.url, eventTypes: values.eventTypes, description: values.description || null };
}

const subscriptionPath = (s: WebhookSubscription) => `/admin/webhooks/${s.id}`;

async function subscriptionParam(ctx: Context, deps: AdminDeps): Promise<WebhookSubscription> {
  const id = String(ctx.params.id ?? '');
  if (!UUID.test(id)) throw notFound('no such webhook');
  return deps.webhooks.get(id);
}

function statusFilter(value: unknown): WebhookDelivery['status'] | undefined {
  return typeof value === 'string' && (STATUSES as readonly string[]).includes(value) ? (value as WebhookDelivery['status']) : undefined;
}

async function renderNew(ctx: Context, principal: ConsolePrincipal, values?: FormValues, error?: string): Promise<void> {
  await renderAdminPage(ctx, 'webhook-new', principal, 'webhooks', { title: 'admin.webhook_new_title', eventTypes: TENANT_EVENT_TYPES, values: values ?? { url: '', description: '', eventTypes: [], enabled: true }, error });
}

async function renderSubscription(ctx: Context, deps: AdminDeps, principal: ConsolePrincipal, subscription: WebhookSubscription, extra: { error?: string; values?: FormValues } = {}): Promise<void> {
  // A page carrying the secret (from the flash) is never stored by the browser or a proxy (renderTenantPage sets no-store).
  const status = statusFilter(ctx.query.status);
  const deliveries = await deps.webhooks.deliveries({ subscriptionId: subscription.id, status, limit: RECENT_DELIVERIES });
  await renderAdminPage(ctx, 'webhook', principal, 'webhooks', {
    title: 'admin.webhook_title',
    subscription,
    deliveries,
    status,
    statuses: STATUSES,
    eventTypes: TENANT_EVENT_TYPES,
    values: extra.values ?? { url: subscription.url, description: subscription.description ?? '', eventTypes: subscription.eventTypes, enabled: subscription.enabled },
    done: doneNotice(ctx, NOTICES),
    error: extra.error,
  });
}

async function listWebhooks(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const subscriptions = await deps.webhooks.list();
  const failed = await deps.webhooks.deliveries({ status: 'failed', limit: RECENT_DELIVERIES });
  const urls = new Map(subscriptions.map((s) => [s.id, s.url]));
  await renderAdminPage(ctx, 'webhooks', principal, 'webhooks', { title: 'admin.webhooks_title', subscriptions, failed, urls, done: doneNotice(ctx, NOTICES) });
}

async function newWebhook(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderNew(ctx, principal);
}

async function createWebhook(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const values = formValues(await deps.consoleAuth.readForm(ctx, principal));
  let created: { subscription: WebhookSubscription; secret: string };
  try {
    created = await deps.webhooks.create(serviceInput(values));
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderNew(ctx, principal, values, error.message);
  }
  await deps.consoleAuth.flash.redirect(ctx, principal, { path: subscriptionPath(created.subscription), notice: 'admin.done_webhook_created', secret: created.secret });
}

async function showWebhook(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderSubscription(ctx, deps, principal, await subscriptionParam(ctx, deps));
}

async function updateWebhook(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const subscription = await subscriptionParam(ctx, deps);
  const values = formValues(form);
  try {
    await deps.webhooks.update(subscription.id, { ...serviceInput(values), enabled: values.enabled });
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderSubscription(ctx, deps, principal, subscription, { error: error.message, values });
  }
  seeOther(ctx, `${subscriptionPath(subscription)}?done=webhook_updated`);
}

async function deleteWebhook(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const subscription = await subscriptionParam(ctx, deps);
  if (form.get('confirm') !== 'on') {
    ctx.status = 400;
    return renderSubscription(ctx, deps, principal, subscription, { error: 'tick the box to confirm the deletion' });
  }
  await deps.webhooks.delete(subscription.id);
  seeOther(ctx, '/admin/webhooks?done=webhook_deleted');
}

/** Makes a failed delivery of this tenant due again (same webhook-id); back to its subscription's page. */
async function replayDelivery(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await deps.consoleAuth.readForm(ctx, principal);
  const subscription = await subscriptionParam(ctx, deps);
  const deliveryId = String(ctx.params.deliveryId ?? '');
  if (!MESSAGE_ID.test(deliveryId)) throw notFound('no failed delivery with this id');
  await deps.webhooks.replay(deliveryId);
  seeOther(ctx, `${subscriptionPath(subscription)}?done=webhook_replayed`);
}

export function mountWebhookRoutes(router: Router, deps: AdminDeps): void {
  router.get('/webhooks', (ctx) => listWebhooks(deps, ctx));
  router.get('/webhooks/new', (ctx) => newWebhook(deps, ctx));
  router.post('/webhooks', (ctx) => createWebhook(deps, ctx));
  router.get('/webhooks/:id', (ctx) => showWebhook(deps, ctx));
  router.post('/webhooks/:id', (ctx) => updateWebhook(deps, ctx));
  router.post('/webhooks/:id/delete', (ctx) => deleteWebhook(deps, ctx));
  router.post('/webhooks/:id/deliveries/:deliveryId/replay', (ctx) => replayDelivery(deps, ctx));
}
