/**
 * Every change made through the console pages (/admin, /platform) is audited, as through
 * the API (test/audit-coverage.test.ts): the test walks each console router's own route
 * list, needs an example form post for every POST route (or an explicit reason it changes
 * nothing), and requires an event with the post's correlation id naming the signed-in
 * person by id and email.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type Router from '@koa/router';
import { adminRoutes } from '../src/console/admin/admin-routes.ts';
import { platformRoutes } from '../src/console/platform/platform-routes.ts';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { signInToConsole } from './support/console.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, type TestBrowser } from './support/http-client.ts';

const ADMIN = { email: 'root@platform.test', password: 'platform-root-correct-horse' };

let t: TestAtrium;
let acme: TenantFixture;
let platformAdminId: string;
let owner: { browser: TestBrowser; csrf: string; origin: string };
let platform: { browser: TestBrowser; csrf: string; origin: string };

before(async () => {
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password });
  acme = await createTenantFixture(t, 'acme'); // its user is the first, so the owner
  const ownerSignIn = await signInToConsole(acme.issuer, { email: acme.email, password: acme.password }, '/account');
  owner = { browser: ownerSignIn.browser, csrf: hiddenInput(ownerSignIn.html, 'csrf'), origin: acme.issuer };
  const platformSignIn = await signInToConsole(t.baseUrl, ADMIN, '/platform');
  platform = { browser: platformSignIn.browser, csrf: hiddenInput(platformSignIn.html, 'csrf'), origin: t.baseUrl };
  platformAdminId = (await t.api('GET', '/tenants/_platforms/users?search=root%40')).body.users[0].id;
});
after(() => t?.stop());

async function given(method: string, path: string, body?: unknown): Promise<any> {
  const res = await t.api(method, path, body);
  assert.ok(res.status < 300, `setup ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
const newUser = async () => (await given('POST', '/tenants/acme/users', { email: `u-${randomUUID()}@acme.test` })).id as string;
const newClient = async () => (await given('POST', '/tenants/acme/clients', { redirect_uris: ['https://app.example.test/cb'] })).client_id as string;
const newWebhook = async () => (await given('POST', '/tenants/acme/webhooks', { url: 'https://hooks.example.test/in', event_types: ['user.created'] })).id as string;
const newTenant = async () => (await given('POST', '/tenants', { slug: `t-${randomUUID().slice(0, 8)}`, name: 'Temp' })).slug as string;

type Post = { path: string; form: Record<string, string>; auditedIn: string };
/** An example post, or why the route changes nothing (it must say so here). */
type Example = { what: string; post: () => Promise<Post> } | { noChange: string };

const EXAMPLES: Record<string, Example[]> = {
  'POST /admin/users': [{ what: 'create a user', post: async () => ({ path: '/admin/users', form: { email: `n-${randomUUID()}@acme.test`, roles: 'member' }, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/roles': [{ what: 'change roles', post: async () => ({ path: `/admin/users/${await newUser()}/roles`, form: { roles: 'admin' }, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/status': [{ what: 'disable', post: async () => ({ path: `/admin/users/${await newUser()}/status`, form: { status: 'disabled' }, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/delete': [{ what: 'delete a user', post: async () => ({ path: `/admin/users/${await newUser()}/delete`, form: { confirm: 'on' }, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/mfa/reset': [{ what: 'reset MFA', post: async () => ({ path: `/admin/users/${await newUser()}/mfa/reset`, form: {}, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/unlock': [{ what: 'unlock', post: async () => ({ path: `/admin/users/${await newUser()}/unlock`, form: {}, auditedIn: 'acme' }) }],
  'POST /admin/users/:id/sessions/revoke': [{ what: 'sign out everywhere', post: async () => ({ path: `/admin/users/${await newUser()}/sessions/revoke`, form: {}, auditedIn: 'acme' }) }],
  'POST /admin/clients': [{ what: 'create a client', post: async () => ({ path: '/admin/clients', form: { client_name: 'made here', kind: 'service' }, auditedIn: 'acme' }) }],
  'POST /admin/clients/:clientId': [{ what: 'update a client', post: async () => ({ path: `/admin/clients/${await newClient()}`, form: { client_name: 'renamed', redirect_uris: 'https://app.example.test/cb' }, auditedIn: 'acme' }) }],
  'POST /admin/clients/:clientId/secret': [{ what: "rotate a client's secret", post: async () => ({ path: `/admin/clients/${await newClient()}/secret`, form: {}, auditedIn: 'acme' }) }],
  'POST /admin/clients/:clientId/delete': [{ what: 'delete a client', post: async () => ({ path: `/admin/clients/${await newClient()}/delete`, form: { confirm: 'on' }, auditedIn: 'acme' }) }],
  'POST /admin/branding': [{ what: 'branding', post: async () => ({ path: '/admin/branding', form: { company_name: 'Acme' }, auditedIn: 'acme' }) }],
  'POST /admin/branding/listing': [{ what: 'listed in the tenant picker', post: async () => ({ path: '/admin/branding/listing', form: { tenant_picker: 'on' }, auditedIn: 'acme' }) }],
  'POST /admin/security': [{ what: 'security', post: async () => ({ path: '/admin/security', form: { min_length: '12', mfa_required: 'off', signup_mode: 'closed' }, auditedIn: 'acme' }) }],
  'POST /admin/keys/rotate': [{ what: 'rotate keys', post: async () => ({ path: '/admin/keys/rotate', form: {}, auditedIn: 'acme' }) }],
  'POST /admin/roles': [{ what: 'create a role', post: async () => ({ path: '/admin/roles', form: { name: `r-${randomUUID().slice(0, 8)}` }, auditedIn: 'acme' }) }],
  'POST /admin/roles/:role/delete': [{
    what: 'delete a role',
    post: async () => {
      const name = `r-${randomUUID().slice(0, 8)}`;
      await given('POST', '/tenants/acme/roles', { name });
      return { path: `/admin/roles/${name}/delete`, form: {}, auditedIn: 'acme' };
    },
  }],
  'POST /admin/webhooks': [{ what: 'add a webhook', post: async () => ({ path: '/admin/webhooks', form: { url: 'https://hooks.example.test/in', event_types: 'user.created' }, auditedIn: 'acme' }) }],
  'POST /admin/webhooks/:id': [{ what: 'edit a webhook', post: async () => ({ path: `/admin/webhooks/${await newWebhook()}`, form: { url: 'https://hooks.example.test/moved', event_types: 'user.deleted' }, auditedIn: 'acme' }) }],
  'POST /admin/webhooks/:id/delete': [{ what: 'delete a webhook', post: async () => ({ path: `/admin/webhooks/${await newWebhook()}/delete`, form: { confirm: 'on' }, auditedIn: 'acme' }) }],
  'POST /admin/webhooks/:id/deliveries/:deliveryId/replay': [{
    what: 'replay a failed delivery',
    post: async () => {
      // A failed delivery as the worker leaves one after its last attempt (waiting for real attempts would take minutes at the default backoff).
      const id = await newWebhook();
      const deliveryId = `msg_${randomUUID().replaceAll('-', '')}`;
      const tenantId = (await given('GET', '/tenants/acme')).id as string;
      await t.atrium.services.db.crossTenant('test: a failed delivery', (q) =>
        q.query(`INSERT INTO webhook_outbox (tenant_id, id, subscription_id, event_type, payload, status, attempts, last_error) VALUES ($1, $2, $3, 'user.created', '{}', 'failed', 3, 'the receiver answered 500')`, [tenantId, deliveryId, id]),
      );
      return { path: `/admin/webhooks/${id}/deliveries/${deliveryId}/replay`, form: {}, auditedIn: 'acme' };
    },
  }],
  'POST /platform/tenants/:slug/quotas': [{ what: 'set quotas', post: async () => ({ path: '/platform/tenants/acme/quotas', form: { users: String(100_000 + Math.floor(Math.random() * 1000)) }, auditedIn: 'acme' }) }],
  'POST /platform/tenants': [{ what: 'create a tenant', post: async () => { const slug = `p-${randomUUID().slice(0, 8)}`; return { path: '/platform/tenants', form: { slug, name: 'Made on /platform' }, auditedIn: slug }; } }],
  'POST /platform/tenants/:slug/status': [{ what: 'suspend', post: async () => { const slug = await newTenant(); return { path: `/platform/tenants/${slug}/status`, form: { status: 'suspended' }, auditedIn: slug }; } }],
  'POST /platform/tenants/:slug/domains': [{ what: 'add a domain', post: async () => ({ path: '/platform/tenants/acme/domains', form: { domain: `d-${randomUUID().slice(0, 8)}.example.com` }, auditedIn: 'acme' }) }],
  'POST /platform/tenants/:slug/domains/remove': [{
    what: 'remove a domain',
    post: async () => {
      const domain = `r-${randomUUID().slice(0, 8)}.example.com`;
      await given('POST', '/tenants/acme/domains', { domain });
      return { path: '/platform/tenants/acme/domains/remove', form: { domain }, auditedIn: 'acme' };
    },
  }],
  'POST /platform/tenants/:slug/domains/verify': [{
    what: 'verify a domain (its TXT record served by the test DNS server)',
    post: async () => {
      const domain = `v-${randomUUID().slice(0, 8)}.example.com`;
      const added = await given('POST', '/tenants/acme/domains', { domain });
      const { name, value } = (added as { challenge: { dns: { name: string; value: string } } }).challenge.dns;
      t.dns.setTxt(name, value);
      return { path: '/platform/tenants/acme/domains/verify', form: { domain }, auditedIn: 'acme' };
    },
  }],
  'POST /platform/tenants/:slug/admin': [{ noChange: 'mints a signed one-minute hand-off link; entering the tenant is audited there (console.platform_admin_entered)' }],
  'POST /platform/tenants/:slug/delete': [{ what: 'delete a tenant', post: async () => { const slug = await newTenant(); return { path: `/platform/tenants/${slug}/delete`, form: { confirm: slug }, auditedIn: '_platforms' }; } }],
  'POST /platform/tenants/:slug/config/:section': [{ what: 'a config section', post: async () => ({ path: '/platform/tenants/acme/config/branding', form: { overrides: '{"company_name":"Acme"}' }, auditedIn: 'acme' }) }],
  'POST /platform/policy/:section/preview': [{ noChange: 'a dry run: validates the proposed policy and lists the tenants it would move, storing nothing' }],
  'POST /platform/policy/:section': [{
    what: 'confirm a platform policy change',
    post: async () => {
      const { version } = await given('GET', '/platform/config/oidc');
      return { path: '/platform/policy/oidc', form: { settings: '{"access_token_ttl":{"ceiling":80000}}', version: String(version) }, auditedIn: '_platforms' };
    },
  }],
};

function mutating(router: Router): string[] {
  return [...new Set(router.stack.flatMap((l) => l.methods.filter((m) => !['GET', 'HEAD', 'OPTIONS'].includes(m)).map((m) => `${m} ${l.path}`)))].sort();
}
const consoleRoutes = () => [...mutating(adminRoutes(t.atrium.services)), ...mutating(platformRoutes(t.atrium.services))];

async function eventsOf(slug: string, correlationId: string): Promise<{ action: string; actor: string | null; details: Record<string, unknown> }[]> {
  const page = await given('GET', `/tenants/${slug}/audit?limit=100`);
  return page.events.filter((e: { correlation_id: string }) => e.correlation_id === correlationId);
}

describe('audit coverage of the console pages', () => {
  it('has an example (or a reason) for every form route of /admin and /platform', () => {
    const routes = consoleRoutes();
    assert.ok(routes.length >= 20, routes.join(', '));
    assert.deepEqual(routes.filter((r) => !EXAMPLES[r]), [], 'console routes without an example post');
    assert.deepEqual(Object.keys(EXAMPLES).filter((r) => !routes.includes(r)), [], 'examples for routes that no longer exist');
  });

  it('every accepted form post leaves an event naming the signed-in person by id and email, with its correlation id', async () => {
    const unaudited: string[] = [];
    const unnamed: string[] = [];
    for (const route of consoleRoutes()) {
      for (const example of EXAMPLES[route] ?? []) {
        if ('noChange' in example) continue;
        const session = route.startsWith('POST /platform') ? platform : owner;
        const { path, form, auditedIn } = await example.post();
        const correlationId = randomUUID();
        const res = await session.browser.request(`${session.origin}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-correlation-id': correlationId },
          body: new URLSearchParams({ ...form, csrf: session.csrf }).toString(),
        });
        const html = await res.text();
        assert.ok(res.status < 400, `${route} (${example.what}): ${res.status} ${html.slice(0, 300)}`);
        const events = await eventsOf(auditedIn, correlationId);
        if (!events.length) unaudited.push(`${route} (${example.what})`);
        const [actor, email] = session === platform ? [`platform:${platformAdminId}`, ADMIN.email] : [acme.userId, acme.email];
        for (const e of events) if (e.actor !== actor || e.details.actor_email !== email) unnamed.push(`${route}: ${e.action} (${e.actor}, ${String(e.details.actor_email)})`);
      }
    }
    assert.deepEqual(unaudited, [], 'accepted changes that left no audit event');
    assert.deepEqual(unnamed, [], 'events that do not name the signed-in person by id and email');
  });
});
