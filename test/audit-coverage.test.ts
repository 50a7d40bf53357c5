/**
 * Every state change is audited, whichever route made it. The test walks the management
 * API router's own list of routes (@koa/router's stack): every mutating route must have an
 * example call here, and each successful call must leave an audit event carrying its
 * correlation id and the actor. A new route without an entry fails, so it cannot forget.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { managementApi } from '../src/app.ts';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { httpFetch } from './support/http-client.ts';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const TENANT = 'audited';

let t: TestAtrium;
before(async () => {
  // One delivery attempt: a webhook aimed at a closed port fails at once, so its replay has something to replay.
  t = await startTestAtrium({ WEBHOOK_MAX_ATTEMPTS: '1', WEBHOOK_POLL_INTERVAL_MS: '100' });
  assert.equal((await t.api('POST', '/tenants', { slug: TENANT, name: 'Audited' })).status, 201);
  // The tenant's owner: the users the examples create, change and delete are never the last one.
  assert.equal((await t.api('POST', `/tenants/${TENANT}/users`, { email: 'owner@example.test', roles: ['owner'] })).status, 201);
});
after(() => t?.stop());

interface Call {
  method: string;
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

async function call(c: Call): Promise<{ status: number; body: any; correlationId: string }> {
  const correlationId = randomUUID();
  const res = await httpFetch(`${t.baseUrl}/api/v1${c.path}`, {
    method: c.method,
    headers: { authorization: `Bearer ${await t.platformToken()}`, 'x-correlation-id': correlationId, ...(c.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: c.body === undefined ? undefined : JSON.stringify(c.body),
  });
  const text = await res.text();
  // A tenant bundle (export) is not JSON.
  const json = res.headers.get('content-type')?.startsWith('application/json');
  return { status: res.status, body: text && json ? JSON.parse(text) : undefined, correlationId };
}

/** A setup step through the API itself; returns the JSON body. */
async function given(method: string, path: string, body?: unknown): Promise<any> {
  const res = await call({ method, path, body });
  assert.ok(res.status < 300, `setup ${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

const newRole = async () => (await given('POST', `/tenants/${TENANT}/roles`, { name: `r-${randomUUID().slice(0, 8)}` })).name as string;
const newUser = async () => (await given('POST', `/tenants/${TENANT}/users`, { email: `u-${randomUUID()}@example.test` })).id as string;
const newClient = async () => (await given('POST', `/tenants/${TENANT}/clients`, { redirect_uris: ['https://app.example.test/cb'] })).client_id as string;
const newTenant = async () => (await given('POST', '/tenants', { slug: `t-${randomUUID().slice(0, 8)}`, name: 'Temp' })).slug as string;
const PASSPHRASE = 'a transfer passphrase for the audit examples';
/** A tenant's bundle (through the API), the tenant then deleted: something to import. */
async function bundleOfDeletedTenant(): Promise<{ slug: string; bundle: string }> {
  const slug = await newTenant();
  const res = await httpFetch(`${t.baseUrl}/api/v1/tenants/${slug}/export`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await t.platformToken()}`, 'content-type': 'application/json' },
    body: JSON.stringify({ passphrase: PASSPHRASE }),
  });
  assert.equal(res.status, 200);
  const bundle = Buffer.from(await res.arrayBuffer()).toString('base64');
  await given('DELETE', `/tenants/${slug}`);
  return { slug, bundle };
}
const connection = { provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'downstream', client_secret: 'a-long-enough-upstream-secret-0123456789' };

/** Webhooks under `base` (a tenant's or the platform's), aimed at a closed loopback port. */
const newWebhook = async (base: string, event: string) => (await given('POST', base, { url: 'http://127.0.0.1:9/hook', event_types: [event] })).id as string;
/** A delivery that failed: a subscription to `event`, then `cause` raises it, and its one attempt is refused. */
async function failedDelivery(base: string, event: string, cause: () => Promise<unknown>): Promise<string> {
  await newWebhook(base, event);
  await cause();
  for (let i = 0; i < 200; i++) {
    const [failed] = (await given('GET', `${base}/deliveries?status=failed`)).deliveries as { id: string }[];
    if (failed) return failed.id;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no failed delivery under ${base}`);
}
const TENANT_HOOKS = `/tenants/${TENANT}/webhooks`;

/** One example call of a route, and the tenant whose audit log must show it. */
interface Example {
  /** What the call changes, for the failure message. */
  what: string;
  call: () => Promise<Call & { auditedIn: string }>;
}

/** Valid example calls per mutating route, by `METHOD /path` as the router lists it; a route that changes nothing says why instead. */
const EXAMPLES: Record<string, (Example | { noChange: string })[]> = {
  'POST /api/v1/tenants': [{ what: 'create a tenant', call: async () => { const slug = `t-${randomUUID().slice(0, 8)}`; return { method: 'POST', path: '/tenants', body: { slug, name: 'New' }, auditedIn: slug }; } }],
  'PATCH /api/v1/tenants/:slug': [
    { what: 'rename', call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}`, body: { name: `Renamed ${randomUUID()}` }, auditedIn: TENANT }) },
    { what: 'suspend', call: async () => { const slug = await newTenant(); return { method: 'PATCH', path: `/tenants/${slug}`, body: { status: 'suspended' }, auditedIn: slug }; } },
  ],
  'POST /api/v1/platform/config/:section/preview': [{ noChange: 'the dry run of the PUT below: validates and lists the tenants it would move, storing nothing (test/platform-policy-console.test.ts checks that)' }],
  'PUT /api/v1/platform/config/:section': [{ what: 'change the operator\'s policy', call: async () => ({ method: 'PUT', path: '/platform/config/oidc', body: { access_token_ttl: { default: 3600 } }, auditedIn: '_platforms' }) }],
  'DELETE /api/v1/tenants/:slug': [{ what: 'delete a tenant', call: async () => ({ method: 'DELETE', path: `/tenants/${await newTenant()}`, auditedIn: '_platforms' }) }],
  'POST /api/v1/tenants/:slug/export': [{ what: 'export a tenant', call: async () => { const slug = await newTenant(); return { method: 'POST', path: `/tenants/${slug}/export`, body: { passphrase: PASSPHRASE }, auditedIn: slug }; } }],
  'POST /api/v1/tenants/import': [{
    what: 'import a tenant (over its retired slug)',
    call: async () => {
      const { slug, bundle } = await bundleOfDeletedTenant();
      return { method: 'POST', path: '/tenants/import', body: { bundle, passphrase: PASSPHRASE, replace: true }, auditedIn: slug };
    },
  }],
  'POST /api/v1/tenants/:slug/clients': [{ what: 'create a client', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/clients`, body: { redirect_uris: ['https://app.example.test/cb'] }, auditedIn: TENANT }) }],
  'PATCH /api/v1/tenants/:slug/clients/:clientId': [{ what: 'update a client', call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}/clients/${await newClient()}`, body: { client_name: 'Changed' }, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/clients/:clientId': [{ what: 'delete a client', call: async () => ({ method: 'DELETE', path: `/tenants/${TENANT}/clients/${await newClient()}`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/users': [{ what: 'create a user', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/users`, body: { email: `c-${randomUUID()}@example.test` }, auditedIn: TENANT }) }],
  'PATCH /api/v1/tenants/:slug/users/:id': [
    { what: 'change a user', call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}/users/${await newUser()}`, body: { name: 'Changed' }, auditedIn: TENANT }) },
    { what: "change a user's roles", call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}/users/${await newUser()}`, body: { roles: ['admin'] }, auditedIn: TENANT }) },
    { what: 'disable a user', call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}/users/${await newUser()}`, body: { status: 'disabled' }, auditedIn: TENANT }) },
  ],
  'DELETE /api/v1/tenants/:slug/users/:id': [{ what: 'delete a user', call: async () => ({ method: 'DELETE', path: `/tenants/${TENANT}/users/${await newUser()}`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/keys/rotate': [{ what: 'rotate keys', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/keys/rotate`, auditedIn: TENANT }) }],
  'PUT /api/v1/tenants/:slug/config/:section': [{ what: 'change a config section', call: async () => ({ method: 'PUT', path: `/tenants/${TENANT}/config/oidc`, body: { access_token_ttl: 900 }, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/domains': [{ what: 'add a domain', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/domains`, body: { domain: `login-${randomUUID().slice(0, 8)}.example.com` }, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/domains/:domain': [{
    what: 'remove a domain',
    call: async () => {
      const domain = `gone-${randomUUID().slice(0, 8)}.example.com`;
      await given('POST', `/tenants/${TENANT}/domains`, { domain });
      return { method: 'DELETE', path: `/tenants/${TENANT}/domains/${domain}`, auditedIn: TENANT };
    },
  }],
  'POST /api/v1/tenants/:slug/domains/:domain/verify': [{
    what: 'verify a domain (its TXT record served by the test DNS server)',
    call: async () => {
      const domain = `proven-${randomUUID().slice(0, 8)}.example.com`;
      const added = await given('POST', `/tenants/${TENANT}/domains`, { domain });
      const { name, value } = (added as { challenge: { dns: { name: string; value: string } } }).challenge.dns;
      t.dns.setTxt(name, value);
      return { method: 'POST', path: `/tenants/${TENANT}/domains/${domain}/verify`, auditedIn: TENANT };
    },
  }],
  'PUT /api/v1/tenants/:slug/federation/:name': [{ what: 'create a federation connection', call: async () => ({ method: 'PUT', path: `/tenants/${TENANT}/federation/f${randomUUID().slice(0, 8)}`, body: connection, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/federation/:name': [{
    what: 'delete a federation connection',
    call: async () => {
      const name = `f${randomUUID().slice(0, 8)}`;
      await given('PUT', `/tenants/${TENANT}/federation/${name}`, connection);
      return { method: 'DELETE', path: `/tenants/${TENANT}/federation/${name}`, auditedIn: TENANT };
    },
  }],
  'POST /api/v1/tenants/:slug/federation/:name/test': [{
    what: 'test a federation connection',
    call: async () => {
      const name = `f${randomUUID().slice(0, 8)}`;
      await given('PUT', `/tenants/${TENANT}/federation/${name}`, { ...connection, issuer: 'https://127.0.0.1:1' });
      return { method: 'POST', path: `/tenants/${TENANT}/federation/${name}/test`, auditedIn: TENANT };
    },
  }],
  'POST /api/v1/tenants/:slug/users/:id/sessions/revoke': [{ what: "end a user's sessions", call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/users/${await newUser()}/sessions/revoke`, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/users/:id/sessions': [{ what: "end a user's sessions (DELETE)", call: async () => ({ method: 'DELETE', path: `/tenants/${TENANT}/users/${await newUser()}/sessions`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/users/:id/mfa/reset': [{ what: "reset a user's MFA", call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/users/${await newUser()}/mfa/reset`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/invitations': [{ what: 'invite a user', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/invitations`, body: { email: `i-${randomUUID()}@example.test` }, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/webhooks': [{ what: 'subscribe a webhook', call: async () => ({ method: 'POST', path: TENANT_HOOKS, body: { url: 'https://hooks.example.test/in', event_types: ['user.created'] }, auditedIn: TENANT }) }],
  'PATCH /api/v1/tenants/:slug/webhooks/:id': [{ what: 'change a webhook', call: async () => ({ method: 'PATCH', path: `${TENANT_HOOKS}/${await newWebhook(TENANT_HOOKS, 'user.deleted')}`, body: { description: 'changed' }, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/webhooks/:id': [{ what: 'delete a webhook', call: async () => ({ method: 'DELETE', path: `${TENANT_HOOKS}/${await newWebhook(TENANT_HOOKS, 'user.deleted')}`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/webhooks/deliveries/:deliveryId/replay': [{ what: 'replay a failed delivery', call: async () => ({ method: 'POST', path: `${TENANT_HOOKS}/deliveries/${await failedDelivery(TENANT_HOOKS, 'user.updated', async () => given('PATCH', `/tenants/${TENANT}/users/${await newUser()}`, { name: 'Changed' }))}/replay`, auditedIn: TENANT }) }],
  'POST /api/v1/platform/webhooks': [{ what: 'subscribe a platform webhook', call: async () => ({ method: 'POST', path: '/platform/webhooks', body: { url: 'https://hooks.example.test/platform', event_types: ['tenant.created'] }, auditedIn: '_platforms' }) }],
  'PATCH /api/v1/platform/webhooks/:id': [{ what: 'change a platform webhook', call: async () => ({ method: 'PATCH', path: `/platform/webhooks/${await newWebhook('/platform/webhooks', 'tenant.deleted')}`, body: { event_types: ['tenant.deleted', 'tenant.updated'] }, auditedIn: '_platforms' }) }],
  'DELETE /api/v1/platform/webhooks/:id': [{ what: 'delete a platform webhook', call: async () => ({ method: 'DELETE', path: `/platform/webhooks/${await newWebhook('/platform/webhooks', 'tenant.deleted')}`, auditedIn: '_platforms' }) }],
  'POST /api/v1/platform/webhooks/deliveries/:deliveryId/replay': [{ what: 'replay a failed platform delivery', call: async () => ({ method: 'POST', path: `/platform/webhooks/deliveries/${await failedDelivery('/platform/webhooks', 'tenant.updated', async () => given('PATCH', `/tenants/${await newTenant()}`, { name: 'Renamed' }))}/replay`, auditedIn: '_platforms' }) }],
  'POST /api/v1/tenants/:slug/users/:id/unlock': [{ what: 'unlock a user', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/users/${await newUser()}/unlock`, auditedIn: TENANT }) }],
  'POST /api/v1/tenants/:slug/roles': [{ what: 'create a custom role', call: async () => ({ method: 'POST', path: `/tenants/${TENANT}/roles`, body: { name: `r-${randomUUID().slice(0, 8)}` }, auditedIn: TENANT }) }],
  'PATCH /api/v1/tenants/:slug/roles/:role': [{ what: 'describe a custom role', call: async () => ({ method: 'PATCH', path: `/tenants/${TENANT}/roles/${await newRole()}`, body: { description: 'Changed' }, auditedIn: TENANT }) }],
  'DELETE /api/v1/tenants/:slug/roles/:role': [{ what: 'delete a custom role', call: async () => ({ method: 'DELETE', path: `/tenants/${TENANT}/roles/${await newRole()}`, auditedIn: TENANT }) }],
  'PUT /api/v1/tenants/:slug/quotas': [{ what: "set a tenant's quotas", call: async () => ({ method: 'PUT', path: `/tenants/${TENANT}/quotas`, body: { users: 100_000 + Math.floor(Math.random() * 1000) }, auditedIn: TENANT }) }],
};

/** The mutating routes the management API really has, read from its router. */
function mutatingApiRoutes(): string[] {
  const { router } = managementApi(t.atrium.services);
  const routes = router.stack.flatMap((layer) => layer.methods.filter((m) => MUTATING.has(m)).map((m) => `${m} ${layer.path}`));
  return [...new Set(routes)].sort();
}

async function eventsOf(slug: string, correlationId: string): Promise<{ action: string; actor: string | null; correlation_id: string; details: Record<string, unknown> }[]> {
  const found = [];
  let cursor: string | null = null;
  do {
    const page = await given('GET', `/tenants/${slug}/audit?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    found.push(...page.events.filter((e: { correlation_id: string }) => e.correlation_id === correlationId));
    cursor = page.next_cursor;
  } while (cursor && found.length === 0);
  return found;
}

describe('audit coverage of the management API', () => {
  it('has an example call for every mutating route the router lists', () => {
    const routes = mutatingApiRoutes();
    assert.ok(routes.length >= 20, `the walk finds the routes: ${routes.join(', ')}`);
    const missing = routes.filter((r) => !EXAMPLES[r]);
    assert.deepEqual(missing, [], 'mutating routes without an example call: add one to EXAMPLES');
    const stale = Object.keys(EXAMPLES).filter((r) => !routes.includes(r));
    assert.deepEqual(stale, [], 'examples for routes that no longer exist');
  });

  it('every successful mutating call leaves an audit event with the actor and its correlation id', async () => {
    const unaudited: string[] = [];
    const unnamed: string[] = [];
    for (const route of mutatingApiRoutes()) {
      for (const example of EXAMPLES[route] ?? []) {
        if ('noChange' in example) continue;
        const { auditedIn, ...request } = await example.call();
        const res = await call(request);
        assert.ok(res.status < 300, `${route} (${example.what}): ${res.status} ${JSON.stringify(res.body)}`);
        const events = await eventsOf(auditedIn, res.correlationId);
        if (!events.length) unaudited.push(`${route} (${example.what})`);
        for (const event of events) {
          if (event.actor !== 'client:platform-test' || event.details.actor_type !== 'client') unnamed.push(`${route}: ${event.action} (actor ${event.actor}, ${String(event.details.actor_type)})`);
        }
      }
    }
    assert.deepEqual(unaudited, [], 'successful changes that left no audit event');
    assert.deepEqual(unnamed, [], 'events that do not name the API client as their actor');
  });
});
