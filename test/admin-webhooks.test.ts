/**
 * /admin/webhooks over HTTP: an owner adds a subscription (event types as checkboxes; the
 * signing secret on the page the 303 leads to, once, and it verifies real deliveries at a
 * receiver using the reference library), edits it, switches it off (no new events) and on,
 * sees deliveries with status, attempts and last error, replays a failed one (same
 * webhook-id), deletes it; every change audited with the admin as actor; CSRF on every
 * form; another tenant can neither see, change nor replay any of it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, type TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

let t: TestAtrium;
let rx: WebhookReceiver;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium({ WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_MAX_ATTEMPTS: '2', WEBHOOK_POLL_INTERVAL_MS: '100' });
  rx = await startWebhookReceiver();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(async () => {
  await rx?.close();
  await t?.stop();
});

interface Session { browser: TestBrowser; csrf: string; origin: string }
type Answer = { status: number; html: string; location: string | null };

async function session(fixture: TenantFixture): Promise<Session> {
  const { browser, html, status } = await signInToConsole(fixture.issuer, fixture, '/account');
  assert.equal(status, 200, html.slice(0, 300));
  return { browser, csrf: hiddenInput(html, 'csrf'), origin: fixture.issuer };
}

async function get(s: Session, path: string): Promise<Answer> {
  const res = await s.browser.request(`${s.origin}${path}`);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function post(s: Session, path: string, form: [string, string][], csrf: string | null = s.csrf): Promise<Answer> {
  const body = new URLSearchParams(form);
  if (csrf !== null) body.set('csrf', csrf);
  const res = await s.browser.request(`${s.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function afterRedirect(s: Session, res: Answer): Promise<Answer & { path: string }> {
  assert.equal(res.status, 303, res.html.slice(0, 500));
  const page = await get(s, res.location!);
  assert.equal(page.status, 200, res.location!);
  return { ...page, path: res.location! };
}

const secretOf = (html: string) => /id="webhook-secret">([^<]+)</.exec(html)?.[1];
const deliveryRows = (html: string) => [...html.matchAll(/data-delivery="(msg_[0-9a-f]{32})" data-status="(\w+)"/g)].map((m) => ({ id: m[1]!, status: m[2]! }));

async function auditEvents(slug: string, action: string): Promise<{ actor: string; target: string; details: Record<string, unknown> }[]> {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=200`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('/admin/webhooks', () => {
  it('adds a subscription whose secret is shown once and verifies deliveries; edits, switches off and on, deletes; all audited', async () => {
    const s = await session(acme);
    const form = await get(s, '/admin/webhooks/new');
    assert.equal(form.status, 200);
    for (const type of ['user.created', 'client.changed', 'mfa.changed', 'sign_in.failed']) assert.match(form.html, new RegExp(`type="checkbox" name="event_types" value="${type.replace('.', '\\.')}"`));
    assert.doesNotMatch(form.html, /value="tenant\.created"/, 'platform events are not offered to a tenant');

    const created = await afterRedirect(s, await post(s, '/admin/webhooks', [['url', rx.url('/console')], ['description', 'CRM sync'], ['event_types', 'user.created'], ['event_types', 'user.deleted']]));
    const secret = secretOf(created.html)!;
    assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
    assert.match(created.path, /^\/admin\/webhooks\/[0-9a-f-]{36}$/);
    const id = created.path.split('/').pop()!;
    assert.match(created.html, /data-flash/);
    rx.expect('/console', secret);
    for (const path of [created.path, '/admin/webhooks', '/admin/audit', '/admin/audit?action=webhook.created']) {
      const page = await get(s, path);
      assert.equal(page.status, 200, path);
      assert.ok(!page.html.includes(secret.slice(6)), `the secret is not on ${path} again`);
    }
    const listed = await get(s, '/admin/webhooks');
    assert.ok(listed.html.includes(rx.url('/console')) && listed.html.includes('CRM sync'));

    // A real event, delivered and verified with the secret the page showed.
    const user = await t.api('POST', '/tenants/acme/users', { email: 'hooked@acme.test' });
    await rx.waitFor('user.created', (r) => r.some((x) => x.path === '/console' && x.payload.data.subject === user.body.id));
    const delivered = await until('delivered row', async () => deliveryRows((await get(s, `${created.path}?status=delivered`)).html)[0]);
    assert.equal(delivered.id, rx.received.find((x) => x.payload.data.subject === user.body.id)!.id, 'the page lists the delivery by its webhook-id');

    // Edit: event types as checkboxes; unticking "on" switches it off: no new events.
    assert.equal((await post(s, created.path, [['url', rx.url('/console')], ['description', 'CRM'], ['event_types', 'user.created']])).status, 303);
    const off = (await t.api('GET', `/tenants/acme/webhooks/${id}`)).body;
    assert.deepEqual([off.event_types, off.description, off.enabled], [['user.created'], 'CRM', false]);
    assert.match((await get(s, created.path)).html, /id="webhook-state">Off</);
    const quiet = await t.api('POST', '/tenants/acme/users', { email: 'quiet@acme.test' });
    assert.equal((await t.api('GET', `/tenants/acme/webhooks/${id}`)).body.deliveries.length, 1, 'no outbox row while off');
    assert.equal((await post(s, created.path, [['url', rx.url('/console')], ['description', 'CRM'], ['event_types', 'user.created'], ['enabled', 'on']])).status, 303);
    const loud = await t.api('POST', '/tenants/acme/users', { email: 'loud@acme.test' });
    await rx.waitFor('on again', (r) => r.some((x) => x.path === '/console' && x.payload.data.subject === loud.body.id));
    assert.ok(!rx.received.some((x) => x.payload.data.subject === quiet.body.id), 'the event while off never comes');

    // A bad form comes back with the problem named and the values kept.
    const bad = await post(s, created.path, [['url', 'ftp://example.test/x'], ['description', 'CRM'], ['event_types', 'user.created'], ['enabled', 'on']]);
    assert.equal(bad.status, 400);
    assert.match(bad.html, /role="alert">url: must be/);
    assert.match(bad.html, /value="ftp:\/\/example\.test\/x"/);
    const none = await post(s, '/admin/webhooks', [['url', rx.url('/x')]]);
    assert.equal(none.status, 400);
    assert.match(none.html, /event_types/);

    assert.equal((await post(s, `${created.path}/delete`, [])).status, 400, 'unconfirmed');
    assert.equal((await post(s, `${created.path}/delete`, [['confirm', 'on']])).location, '/admin/webhooks?done=webhook_deleted');
    assert.equal((await t.api('GET', `/tenants/acme/webhooks/${id}`)).status, 404);
    assert.equal((await get(s, created.path)).status, 404);

    for (const action of ['webhook.created', 'webhook.updated', 'webhook.deleted']) {
      const events = (await auditEvents('acme', action)).filter((e) => e.target === id);
      assert.ok(events.length >= 1 && events.every((e) => e.actor === acme.userId), action);
    }
    assert.deepEqual(rx.rejected, []);
  });

  it('shows a failed delivery with its attempts and last error, and replays it with the same webhook-id', async () => {
    const s = await session(acme);
    const created = await afterRedirect(s, await post(s, '/admin/webhooks', [['url', rx.url('/flaky')], ['event_types', 'client.changed']]));
    const secret = secretOf(created.html)!;
    rx.expect('/flaky', 'whsec_' + Buffer.alloc(32).toString('base64')); // wrong secret: the receiver answers 400
    assert.equal((await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], client_name: 'probe' })).status, 201);
    const failed = await until('failed delivery', async () => deliveryRows((await get(s, `${created.path}?status=failed`)).html)[0]);
    const page = await get(s, `${created.path}?status=failed`);
    assert.match(page.html, /the receiver answered 400/);
    assert.match(page.html, new RegExp(`data-delivery="${failed.id}" data-status="failed">[\\s\\S]*?<td data-label="Attempts">2</td>`));
    assert.ok((await get(s, '/admin/webhooks')).html.includes('the receiver answered 400'), 'the overview lists failed deliveries');

    // Another tenant's admin can neither see nor replay it.
    const other = await session(globex);
    assert.equal((await get(other, created.path)).status, 404);
    assert.equal((await post(other, `${created.path}/deliveries/${failed.id}/replay`, [])).status, 404);
    const globexId = (await afterRedirect(other, await post(other, '/admin/webhooks', [['url', rx.url('/globex')], ['event_types', 'user.created']]))).path.split('/').pop();
    assert.equal((await post(other, `/admin/webhooks/${globexId}/deliveries/${failed.id}/replay`, [])).status, 404, 'not through its own subscription either');
    for (const path of ['/admin/webhooks', `/admin/webhooks/${globexId}`]) assert.ok(!(await get(other, path)).html.includes(failed.id), path);
    assert.ok(!(await get(other, '/admin/webhooks')).html.includes(rx.url('/flaky')));
    assert.equal((await t.api('GET', '/tenants/acme/webhooks/deliveries?status=failed')).body.deliveries.filter((d: { id: string }) => d.id === failed.id).length, 1, 'still failed');

    rx.expect('/flaky', secret);
    const replayed = await post(s, `${created.path}/deliveries/${failed.id}/replay`, []);
    assert.equal(replayed.location, `${created.path}?done=webhook_replayed`);
    await rx.waitFor('the replay', (r) => r.some((x) => x.path === '/flaky' && x.id === failed.id));
    assert.equal((await post(s, `${created.path}/deliveries/${failed.id}/replay`, [])).status, 404, 'no longer failed');
    assert.equal((await auditEvents('acme', 'webhook.delivery_replayed')).find((e) => e.target === failed.id)?.actor, acme.userId);
  });

  it('requires the CSRF token on every form, and gives another tenant nothing', async () => {
    const s = await session(acme);
    const created = await afterRedirect(s, await post(s, '/admin/webhooks', [['url', rx.url('/csrf')], ['event_types', 'user.created']]));
    const forms: [string, [string, string][]][] = [
      ['/admin/webhooks', [['url', rx.url('/probe')], ['event_types', 'user.created']]],
      [created.path, [['url', rx.url('/evil')], ['event_types', 'user.deleted']]],
      [`${created.path}/delete`, [['confirm', 'on']]],
      [`${created.path}/deliveries/msg_${'0'.repeat(32)}/replay`, []],
    ];
    for (const [path, form] of forms) {
      assert.equal((await post(s, path, form, null)).status, 403, `${path} without a token`);
      assert.equal((await post(s, path, form, 'forged')).status, 403, `${path} with a forged token`);
    }
    const other = await session(globex);
    for (const [path, form] of forms.slice(1)) assert.equal((await post(other, path, form)).status, 404, `globex: ${path}`);
    assert.equal((await get(other, created.path)).status, 404);
    const still = (await t.api('GET', `/tenants/acme/webhooks/${created.path.split('/').pop()}`)).body;
    assert.deepEqual([still.url, still.event_types], [rx.url('/csrf'), ['user.created']], 'nothing changed');
    assert.equal((await t.api('GET', '/tenants/acme/webhooks')).body.webhooks.filter((w: { url: string }) => w.url === rx.url('/probe')).length, 0);
    for (const path of ['/admin/webhooks/not-a-uuid', `/admin/webhooks/${'a'.repeat(3000)}`]) assert.equal((await get(s, path)).status, 404, path.slice(0, 30));
    // In French too, with no key left untranslated.
    for (const path of ['/admin/webhooks', '/admin/webhooks/new', created.path]) {
      const res = await s.browser.request(`${acme.issuer}${path}`, { headers: { 'accept-language': 'fr' } });
      const html = await res.text();
      assert.equal(res.status, 200);
      assert.doesNotMatch(html, /(?<![\w/])admin\.(?!css)[a-z_]+/, path);
      assert.match(html, />Webhooks</);
    }
  });
});
