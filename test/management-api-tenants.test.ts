/**
 * Management API (/api/v1/tenants): the tenant lifecycle. Create, list (paginated), read,
 * rename, suspend and reactivate, delete; slug rules; and what each step does to the
 * tenant's issuer (discovery, sign-in, token and userinfo endpoints, stored data).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { TENANT_LIST_QUERIES } from '../src/tenancy/tenant-store.ts';


let t: TestAtrium;

before(async () => {
  t = await startTestAtrium();
});
after(() => t?.stop());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TENANT_KEYS = ['created_at', 'domains', 'id', 'issuer', 'name', 'slug', 'status', 'updated_at'];

function assertTenantShape(tenant: Record<string, unknown>, expected: { slug: string; name: string; status: string }): void {
  assert.deepEqual(Object.keys(tenant).sort(), TENANT_KEYS, JSON.stringify(tenant));
  assert.match(String(tenant.id), UUID);
  assert.equal(tenant.slug, expected.slug);
  assert.equal(tenant.name, expected.name);
  assert.equal(tenant.status, expected.status);
  assert.equal(tenant.issuer, t.issuer(expected.slug));
  assert.deepEqual(tenant.domains, []);
  assert.match(String(tenant.created_at), ISO_DATE);
  assert.match(String(tenant.updated_at), ISO_DATE);
}

const discovery = (issuer: string) => httpFetch(`${issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } });

async function clientCredentials(issuer: string, clientId: string, secret: string) {
  const res = await httpFetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${clientId}:${secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return { status: res.status, headers: res.headers, body: (await res.json().catch(() => undefined)) as Record<string, unknown> | undefined };
}

/** Signs the fixture's user in through the pages and returns its tokens. */
async function codeFlow(fixture: TenantFixture) {
  const config = await discover(fixture.issuer, fixture.clientId, fixture.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });
  const { callback } = await signInThroughPages(authUrl, fixture);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  return { config, tokens };
}

/** Counts the rows a tenant id still owns, read under that tenant's own row-level security. */
async function rowsOwnedBy(tenantId: string): Promise<Record<string, number>> {
  const { db } = t.atrium.services;
  const counts: Record<string, number> = {};
  for (const table of ['users', 'oidc_clients', 'signing_keys', 'oidc_payloads']) {
    const res = await runAsTenant(tenantId, () => db.withTenant((q) => q.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)));
    counts[table] = Number(res.rows[0]!.n);
  }
  return counts;
}

// Rule: POST /tenants {slug, name} creates an active tenant with its own issuer and keys (201 + Location); GET reads it back.
describe('creating and reading tenants', () => {
  it('creates a tenant: 201, Location, the tenant JSON, and an issuer that serves discovery and a JWKS at once', async () => {
    const res = await t.api('POST', '/tenants', { slug: 'initech', name: 'Initech' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertTenantShape(res.body, { slug: 'initech', name: 'Initech', status: 'active' });
    assert.equal(res.headers.get('location'), '/api/v1/tenants/initech');
    assert.equal(res.body.created_at, res.body.updated_at);

    const meta = await discovery(t.issuer('initech'));
    assert.equal(meta.status, 200);
    const doc = (await meta.json()) as { issuer: string; jwks_uri: string };
    assert.equal(doc.issuer, t.issuer('initech'));
    const jwks = (await (await httpFetch(doc.jwks_uri)).json()) as { keys: { alg: string }[] };
    assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);

    const read = await t.api('GET', '/tenants/initech');
    assert.equal(read.status, 200);
    assert.deepEqual(read.body, res.body);
  });

  it('trims the name, and accepts slugs at the edges of the pattern', async () => {
    const res = await t.api('POST', '/tenants', { slug: '0', name: '  Zero Corp  ' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.name, 'Zero Corp');
    for (const slug of ['a'.repeat(63), 'x_y-z9', '9lives']) {
      const ok = await t.api('POST', '/tenants', { slug, name: slug });
      assert.equal(ok.status, 201, `${slug}: ${JSON.stringify(ok.body)}`);
      assert.equal(ok.body.issuer, t.issuer(slug));
    }
  });

  it('lists tenants with the same JSON per tenant, the reserved platform tenant included', async () => {
    const res = await t.api('GET', '/tenants');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['limit', 'next_cursor', 'tenants', 'total']);
    assert.equal(res.body.limit, 50);
    assert.equal(res.body.total, res.body.tenants.length);
    assert.equal(res.body.next_cursor, null, 'every tenant fits on the page: no next page');
    for (const tenant of res.body.tenants) assert.deepEqual(Object.keys(tenant).sort(), TENANT_KEYS);
    const initech = res.body.tenants.find((x: { slug: string }) => x.slug === 'initech');
    assert.deepEqual(initech, (await t.api('GET', '/tenants/initech')).body);
    const platform = res.body.tenants.find((x: { slug: string }) => x.slug === '_platforms');
    assert.equal(platform?.issuer, t.baseUrl, 'the platform tenant issues on the bare PUBLIC_URL');
  });

  it('answers 404 for an unknown tenant', async () => {
    assertApiError(await t.api('GET', '/tenants/no-such-tenant'), 404, 'not_found');
    assertApiError(await t.api('GET', '/tenants/_ops'), 404, 'not_found');
  });

  it('derives issuers from PUBLIC_URL, never from the Host or X-Forwarded-* headers of the API call', async () => {
    // node:http, because fetch will not send a Host header of our choosing.
    const token = await t.platformToken();
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: t.port,
          path: '/api/v1/tenants/initech',
          headers: { authorization: `Bearer ${token}`, host: `evil.example:${t.port}`, 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'https' },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200, body);
    assert.equal((JSON.parse(body) as { issuer: string }).issuer, t.issuer('initech'));
  });
});

// Rule: slugs match ^[a-z0-9][a-z0-9_-]{0,62}$ and are not reserved; bodies are exactly {slug, name[, reuse_retired_slug]}; a 400 names the field.
describe('tenant input validation', () => {
  it('refuses slugs outside the pattern with a 400 that names the slug', async () => {
    const bad = ['', 'Acme', 'ACME', '-acme', '_acme', 'ac me', 'acme.corp', 'acme/corp', 'a'.repeat(64), 'café', 'acme\n', ' acme', '../x', 'acme%20'];
    for (const slug of bad) {
      const res = await t.api('POST', '/tenants', { slug, name: 'Bad' });
      assertApiError(res, 400, undefined, /slug/);
    }
    for (const slug of [42, null, ['acme'], { s: 'acme' }, true]) {
      assertApiError(await t.api('POST', '/tenants', { slug, name: 'Bad' }), 400, undefined, /slug/);
    }
  });

  it('refuses reserved slugs', async () => {
    for (const slug of ['default', '_platforms', '_ops', 'www', 'api', 'admin', 'platform']) {
      assertApiError(await t.api('POST', '/tenants', { slug, name: 'Reserved' }), 400, undefined, /slug|reserved/);
    }
  });

  it('requires a non-empty name of at most 200 characters', async () => {
    assertApiError(await t.api('POST', '/tenants', { slug: 'nameless' }), 400, undefined, /name/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'nameless', name: '' }), 400, undefined, /name/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'nameless', name: '   ' }), 400, undefined, /name/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'nameless', name: 'n'.repeat(201) }), 400, undefined, /name/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'nameless', name: 7 }), 400, undefined, /name/);
    assertApiError(await t.api('POST', '/tenants', { name: 'No slug' }), 400, undefined, /slug/);
    assertApiError(await t.api('POST', '/tenants', {}), 400);
    assert.equal((await t.api('GET', '/tenants/nameless')).status, 404);
  });

  it('refuses unknown fields, naming them, rather than ignoring them', async () => {
    for (const field of ['status', 'id', 'issuer', 'domains', 'config', 'Name']) {
      const res = await t.api('POST', '/tenants', { slug: 'extra-field', name: 'Extra', [field]: 'x' });
      assertApiError(res, 400, undefined, new RegExp(field));
    }
    assertApiError(await t.api('POST', '/tenants', { slug: 'extra-field', name: 'Extra', reuse_retired_slug: 'yes' }), 400, undefined, /reuse_retired_slug/);
    assert.equal((await t.api('GET', '/tenants/extra-field')).status, 404);
  });

  it('answers 409 for a duplicate slug', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'dupe', name: 'First' })).status, 201);
    assertApiError(await t.api('POST', '/tenants', { slug: 'dupe', name: 'Second' }), 409, 'conflict', /dupe/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'dupe', name: 'Second', reuse_retired_slug: true }), 409, 'conflict', /dupe/);
    assert.equal((await t.api('GET', '/tenants/dupe')).body.name, 'First', 'the first tenant is untouched');
  });

  it('answers exactly one 201 and otherwise 409 (never 500) when the same slug is created concurrently', async () => {
    const results = await Promise.all(Array.from({ length: 4 }, (_, i) => t.api('POST', '/tenants', { slug: 'race', name: `Racer ${i}` })));
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [201, 409, 409, 409], JSON.stringify(results.map((r) => r.body)));
    for (const r of results.filter((x) => x.status === 409)) assertApiError(r, 409, 'conflict');
    const listed = (await t.api('GET', '/tenants?limit=200')).body.tenants.filter((x: { slug: string }) => x.slug === 'race');
    assert.equal(listed.length, 1);
  });
});

// Rule: GET /tenants pages by cursor: limit (1..200, default 50), cursor (the previous page's next_cursor, opaque; null on the last page), search;
// offset (>= 0) is still accepted (its answers carry offset) but not with cursor; any other parameter is a 400 naming it; total counts every match.
describe('tenant list pagination', () => {
  before(async () => {
    for (const slug of ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']) {
      const res = await t.api('POST', '/tenants', { slug, name: slug });
      assert.equal(res.status, 201);
    }
  });

  const slugsOf = (body: { tenants: { slug: string }[] }) => body.tenants.map((x) => x.slug);

  /** Follows next_cursor from the first page of `query` to the end; returns each page's body. */
  async function walk(query: string): Promise<{ tenants: { slug: string }[]; total: number; limit: number; next_cursor: string | null }[]> {
    const pages = [];
    let cursor: string | null = null;
    do {
      const page = await t.api('GET', `/tenants?${query}${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      pages.push(page.body);
      cursor = page.body.next_cursor;
      assert.ok(pages.length < 10_000, 'the walk ends');
    } while (cursor);
    return pages;
  }

  it('walks every tenant exactly once by cursor in pages of 2, with the same total on every page', async () => {
    const all = await t.api('GET', '/tenants?limit=200');
    assert.equal(all.status, 200);
    const total = all.body.total as number;
    assert.equal(all.body.tenants.length, total);
    assert.ok(total >= 8);
    const pages = await walk('limit=2');
    assert.equal(pages.length, Math.ceil(total / 2));
    for (const page of pages) {
      assert.deepEqual(Object.keys(page).sort(), ['limit', 'next_cursor', 'tenants', 'total']);
      assert.equal(page.total, total);
      assert.equal(page.limit, 2);
    }
    assert.ok(pages.slice(0, -1).every((p) => p.tenants.length === 2 && typeof p.next_cursor === 'string'));
    assert.equal(pages.at(-1)!.next_cursor, null);
    const seen = pages.flatMap(slugsOf);
    assert.deepEqual(seen, slugsOf(all.body));
    assert.equal(new Set(seen).size, total);
  });

  it('pages a search by cursor: only matches, in slug order, total counting the matches', async () => {
    const pages = await walk('limit=2&search=page-');
    assert.deepEqual(pages.flatMap(slugsOf), ['page-a', 'page-b', 'page-c', 'page-d', 'page-e']);
    assert.deepEqual(pages.map((p) => p.total), [5, 5, 5]);
  });

  it('still walks by offset (the older paging), echoing the offset', async () => {
    const all = await t.api('GET', '/tenants?limit=200');
    const total = all.body.total as number;
    const seen: string[] = [];
    for (let offset = 0; offset < total; offset += 2) {
      const page = await t.api('GET', `/tenants?limit=2&offset=${offset}`);
      assert.equal(page.status, 200);
      assert.equal(page.body.total, total);
      assert.equal(page.body.limit, 2);
      assert.equal(page.body.offset, offset);
      assert.equal(page.body.tenants.length, Math.min(2, total - offset));
      assert.equal(page.body.next_cursor === null, offset + 2 >= total, 'next_cursor says whether a page follows');
      seen.push(...slugsOf(page.body));
    }
    assert.deepEqual(seen, slugsOf(all.body));
  });

  it('returns an empty page past the end, with the total', async () => {
    const res = await t.api('GET', '/tenants?limit=5&offset=100000');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body.tenants, []);
    assert.equal(res.body.next_cursor, null);
    assert.ok(res.body.total >= 8);
  });

  it('refuses a limit or offset out of range, naming the parameter', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=-1', 'limit=abc', 'limit=1.5', 'limit=']) {
      assertApiError(await t.api('GET', `/tenants?${q}`), 400, undefined, /limit/);
    }
    for (const q of ['offset=-1', 'offset=x', 'offset=0.5']) {
      assertApiError(await t.api('GET', `/tenants?${q}`), 400, undefined, /offset/);
    }
  });

  it('refuses a cursor it did not issue, a cursor with an offset, and parameters it does not know, naming them', async () => {
    const first = await t.api('GET', '/tenants?limit=1');
    const cursor = first.body.next_cursor as string;
    assert.equal(typeof cursor, 'string');
    assert.equal((await t.api('GET', `/tenants?limit=1&cursor=${cursor}`)).status, 200);
    for (const bad of ['x', Buffer.from('t1:NOT A SLUG').toString('base64url'), Buffer.from('page-a').toString('base64url')]) {
      assertApiError(await t.api('GET', `/tenants?cursor=${bad}`), 400, 'invalid_cursor', /cursor/);
    }
    assertApiError(await t.api('GET', `/tenants?cursor=${cursor}&offset=2`), 400, undefined, /cursor, offset/);
    for (const unknown of ['page=2', 'sort=name', 'after=page-a']) {
      assertApiError(await t.api('GET', `/tenants?${unknown}`), 400, undefined, new RegExp(unknown.split('=')[0]!));
    }
  });

  it('accepts the bounds limit=1 and limit=200', async () => {
    assert.equal((await t.api('GET', '/tenants?limit=1')).body.tenants.length, 1);
    assert.equal((await t.api('GET', '/tenants?limit=200')).status, 200);
  });
});

// Rule: PATCH /tenants/:slug changes only name and status (active/suspended); anything else is a 400 naming the field.
describe('updating tenants', () => {
  before(async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'renamed', name: 'Before' })).status, 201);
  });

  it('renames a tenant and moves updated_at forward', async () => {
    const before = (await t.api('GET', '/tenants/renamed')).body;
    await new Promise((r) => setTimeout(r, 5));
    const res = await t.api('PATCH', '/tenants/renamed', { name: ' After ' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertTenantShape(res.body, { slug: 'renamed', name: 'After', status: 'active' });
    assert.equal(res.body.id, before.id);
    assert.equal(res.body.created_at, before.created_at);
    assert.ok(Date.parse(res.body.updated_at) > Date.parse(before.updated_at), 'updated_at moves forward');
    assert.deepEqual((await t.api('GET', '/tenants/renamed')).body, res.body);
  });

  it('accepts an empty patch without changing anything visible', async () => {
    const res = await t.api('PATCH', '/tenants/renamed', {});
    assert.equal(res.status, 200);
    assert.equal(res.body.name, 'After');
    assert.equal(res.body.status, 'active');
  });

  it('refuses other fields and values, naming the field, and leaves the tenant unchanged', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ status: 'deleted' }, /status/],
      [{ status: 'Suspended' }, /status/],
      [{ status: null }, /status/],
      [{ name: '' }, /name/],
      [{ name: 'n'.repeat(201) }, /name/],
      [{ name: null }, /name/],
      [{ slug: 'new-slug' }, /slug/],
      [{ id: '00000000-0000-4000-8000-000000000009' }, /id/],
      [{ issuer: 'https://evil.example' }, /issuer/],
    ];
    for (const [body, field] of cases) assertApiError(await t.api('PATCH', '/tenants/renamed', body), 400, undefined, field);
    const after = (await t.api('GET', '/tenants/renamed')).body;
    assert.equal(after.name, 'After');
    assert.equal(after.status, 'active');
    assert.equal((await t.api('GET', '/tenants/new-slug')).status, 404);
  });

  it('answers 404 when patching an unknown tenant', async () => {
    assertApiError(await t.api('PATCH', '/tenants/no-such-tenant', { name: 'x' }), 404, 'not_found');
  });

  it('refuses to suspend the platform tenant (it would lock the management API out)', async () => {
    const res = await t.api('PATCH', '/tenants/_platforms', { status: 'suspended' });
    try {
      assertApiError(res, 400);
    } finally {
      if (res.status === 200) {
        // Undo it behind the API's back, or every later test would be locked out.
        const { services } = t.atrium;
        const platform = (await services.tenantStore.findBySlug('_platforms'))!;
        await services.tenants.update(platform, { status: 'active' });
      }
    }
    assert.equal((await t.api('GET', '/tenants/_platforms')).body.status, 'active');
  });
});

// Rule: a suspended tenant refuses sign-in, discovery, token and userinfo (403 tenant_suspended) and its existing tokens stop working; reactivation restores service.
describe('suspending and reactivating a tenant', () => {
  let hooli: TenantFixture;
  let accessToken: string;
  let userinfoUrl: string;
  let pendingLogin: { browser: TestBrowser; action: string; csrf: string };

  before(async () => {
    hooli = await createTenantFixture(t, 'hooli');
    // A sign-in that reached the login form before the suspension.
    const browser = new TestBrowser();
    const authUrl = new URL(`${hooli.issuer}/auth`);
    authUrl.search = new URLSearchParams({ client_id: hooli.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' }).toString();
    const page = await browser.follow(authUrl);
    const html = await page.res.text();
    assert.equal(page.res.status, 200, html.slice(0, 300));
    assert.match(html, /name="password"/);
    pendingLogin = { browser, action: `${page.url.href.replace(/\/$/, '')}/login`, csrf: hiddenInput(html, 'csrf') };
    const { config, tokens } = await codeFlow(hooli);
    accessToken = tokens.access_token;
    userinfoUrl = config.serverMetadata().userinfo_endpoint!;
    const info = await oidc.fetchUserInfo(config, accessToken, hooli.userId);
    assert.equal(info.sub, hooli.userId, 'the token works before suspension');
  });

  it('PATCH status suspended answers the suspended tenant, also in GET and the list', async () => {
    const res = await t.api('PATCH', '/tenants/hooli', { status: 'suspended' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertTenantShape(res.body, { slug: 'hooli', name: 'hooli Inc.', status: 'suspended' });
    assert.equal((await t.api('GET', '/tenants/hooli')).body.status, 'suspended');
    const listed = (await t.api('GET', '/tenants?limit=200')).body.tenants.find((x: { slug: string }) => x.slug === 'hooli');
    assert.equal(listed.status, 'suspended');
  });

  it('answers discovery with 403 tenant_suspended, as a JSON error with a correlation id', async () => {
    const res = await discovery(hooli.issuer);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.equal(body.error, 'tenant_suspended');
    assert.equal(typeof body.error_description, 'string');
    assert.equal(body.correlation_id, res.headers.get('x-correlation-id'));
  });

  it('refuses to issue tokens (client credentials) with 403 tenant_suspended', async () => {
    const res = await clientCredentials(hooli.issuer, hooli.m2mClientId, hooli.m2mClientSecret);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body?.error, 'tenant_suspended');
    assert.equal(res.body?.access_token, undefined);
  });

  it('refuses an access token issued before the suspension at userinfo', async () => {
    const res = await httpFetch(userinfoUrl, { headers: { authorization: `Bearer ${accessToken}`, accept: 'application/json' } });
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 403, JSON.stringify(body));
    assert.equal(body.error, 'tenant_suspended');
    assert.equal(body.sub, undefined, 'no claims are released');
  });

  it('refuses to start a sign-in (authorization endpoint) and shows an error page', async () => {
    const url = new URL(`${hooli.issuer}/auth`);
    url.search = new URLSearchParams({ client_id: hooli.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', code_challenge: 'c'.repeat(43), code_challenge_method: 'S256' }).toString();
    const res = await httpFetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('location'), null, 'no redirect towards the client or a login form');
    assert.match(await res.text(), /suspended/i);
  });

  it('refuses to complete a sign-in that was started before the suspension', async () => {
    const res = await pendingLogin.browser.postForm(pendingLogin.action, { csrf: pendingLogin.csrf, email: hooli.email, password: hooli.password });
    assert.equal(res.status, 403, (await res.text()).slice(0, 300));
    assert.equal(res.headers.get('location'), null);
  });

  it('still lets the platform manage the suspended tenant through the API', async () => {
    const users = await t.api('GET', '/tenants/hooli/users');
    assert.equal(users.status, 200);
    assert.equal(users.body.total, 1);
    assert.equal((await t.api('GET', '/tenants/hooli/clients')).status, 200);
  });

  it('PATCH status active restores discovery, token issuance and sign-in', async () => {
    const res = await t.api('PATCH', '/tenants/hooli', { status: 'active' });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'active');
    const meta = await discovery(hooli.issuer);
    assert.equal(meta.status, 200);
    assert.equal(((await meta.json()) as { issuer: string }).issuer, hooli.issuer);
    const token = await clientCredentials(hooli.issuer, hooli.m2mClientId, hooli.m2mClientSecret);
    assert.equal(token.status, 200, JSON.stringify(token.body));
    assert.equal(typeof token.body?.access_token, 'string');
    const { config, tokens } = await codeFlow(hooli);
    assert.equal((await oidc.fetchUserInfo(config, tokens.access_token, hooli.userId)).sub, hooli.userId);
  });

  it('answers 404 when suspending an unknown tenant', async () => {
    assertApiError(await t.api('PATCH', '/tenants/no-such-tenant', { status: 'suspended' }), 404, 'not_found');
  });
});

// Rule: DELETE removes the tenant and all its data; its issuer is gone; the slug is retired and only reused on request (reuse_retired_slug: true).
describe('deleting a tenant', () => {
  let doomed: TenantFixture;
  let doomedId: string;

  before(async () => {
    doomed = await createTenantFixture(t, 'doomed');
    doomedId = (await t.api('GET', '/tenants/doomed')).body.id;
    await codeFlow(doomed); // leaves a session, a grant and tokens behind
    assert.equal((await clientCredentials(doomed.issuer, doomed.m2mClientId, doomed.m2mClientSecret)).status, 200);
    const owned = await rowsOwnedBy(doomedId);
    assert.ok(owned.users! > 0 && owned.oidc_clients! > 0 && owned.signing_keys! > 0 && owned.oidc_payloads! > 0, JSON.stringify(owned));
  });

  it('answers 204 with no body', async () => {
    const res = await t.api('DELETE', '/tenants/doomed');
    assert.equal(res.status, 204, JSON.stringify(res.body));
    assert.equal(res.body, undefined);
  });

  it('no longer knows the tenant or anything under it', async () => {
    assertApiError(await t.api('GET', '/tenants/doomed'), 404, 'not_found');
    for (const sub of ['users', 'clients', 'keys', `users/${doomed.userId}`, `clients/${doomed.clientId}`]) {
      assertApiError(await t.api('GET', `/tenants/doomed/${sub}`), 404, 'not_found');
    }
    const list = (await t.api('GET', '/tenants?limit=200')).body.tenants as { slug: string; id: string }[];
    assert.ok(!list.some((x) => x.slug === 'doomed' || x.id === doomedId));
  });

  it('removes every row the tenant owned (users, clients, keys, sessions and tokens)', async () => {
    assert.deepEqual(await rowsOwnedBy(doomedId), { users: 0, oidc_clients: 0, signing_keys: 0, oidc_payloads: 0 });
  });

  it('no longer serves its issuer: no discovery document for it, and its clients get no tokens', async () => {
    const res = await discovery(doomed.issuer);
    const text = await res.text();
    // In development an unknown host falls back to the default tenant, whose issuer differs; never this one.
    if (res.status === 200) assert.notEqual((JSON.parse(text) as { issuer: string }).issuer, doomed.issuer, text);
    else assert.ok(res.status === 404 || res.status === 400, `${res.status} ${text}`);
    await assert.rejects(discover(doomed.issuer, doomed.clientId, doomed.clientSecret), 'an RP can no longer discover the issuer');
    const token = await clientCredentials(doomed.issuer, doomed.m2mClientId, doomed.m2mClientSecret);
    assert.ok(token.status >= 400 && token.status < 500, JSON.stringify(token.body));
    assert.equal(token.body?.access_token, undefined);
  });

  it('answers 404 when deleting it again, and 400 for the reserved tenants', async () => {
    assertApiError(await t.api('DELETE', '/tenants/doomed'), 404, 'not_found');
    assertApiError(await t.api('DELETE', '/tenants/_platforms'), 400);
    assertApiError(await t.api('DELETE', '/tenants/default'), 400);
    assert.equal((await t.api('GET', '/tenants/_platforms')).status, 200);
    assert.equal((await t.api('GET', '/tenants/default')).status, 200);
  });

  it('does not silently reuse the retired slug: 409 naming reuse_retired_slug', async () => {
    assertApiError(await t.api('POST', '/tenants', { slug: 'doomed', name: 'Reborn' }), 409, 'conflict', /reuse_retired_slug/);
    assertApiError(await t.api('POST', '/tenants', { slug: 'doomed', name: 'Reborn', reuse_retired_slug: false }), 409, 'conflict');
    assert.equal((await t.api('GET', '/tenants/doomed')).status, 404);
  });

  it('reuses it on request, as a new, empty tenant that knows nothing of the old one', async () => {
    const res = await t.api('POST', '/tenants', { slug: 'doomed', name: 'Reborn', reuse_retired_slug: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertTenantShape(res.body, { slug: 'doomed', name: 'Reborn', status: 'active' });
    assert.notEqual(res.body.id, doomedId);
    assert.equal((await t.api('GET', '/tenants/doomed/users')).body.total, 0);
    assert.equal((await t.api('GET', '/tenants/doomed/clients')).body.total, 0);
    assertApiError(await t.api('GET', `/tenants/doomed/users/${doomed.userId}`), 404);
    assertApiError(await t.api('GET', `/tenants/doomed/clients/${doomed.m2mClientId}`), 404);
    const old = await clientCredentials(doomed.issuer, doomed.m2mClientId, doomed.m2mClientSecret);
    assert.equal(old.status, 401, JSON.stringify(old.body));
    assert.equal(old.body?.error, 'invalid_client');
    const keys = (await t.api('GET', '/tenants/doomed/keys')).body.keys as unknown[];
    assert.equal(keys.length, 2, 'fresh keys, none of the old tenant');
  });

  it('accepts reuse_retired_slug: true for a slug that was never used', async () => {
    const res = await t.api('POST', '/tenants', { slug: 'brand-new', name: 'Brand new', reuse_retired_slug: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
  });
});

// Rule: outside development an unknown or deleted tenant's host is not served at all (400), with no fallback tenant.
describe('a deleted tenant outside development', () => {
  let staging: TestAtrium;
  before(async () => {
    staging = await startTestAtrium({ ATRIUM_ENV: 'staging' });
  });
  after(() => staging?.stop());

  it('serves the issuer while the tenant exists and answers 400 once it is deleted', async () => {
    assert.equal((await staging.api('POST', '/tenants', { slug: 'ephemeral', name: 'Ephemeral' })).status, 201);
    const live = await discovery(staging.issuer('ephemeral'));
    assert.equal(live.status, 200);
    assert.equal(((await live.json()) as { issuer: string }).issuer, staging.issuer('ephemeral'));
    assert.equal((await staging.api('DELETE', '/tenants/ephemeral')).status, 204);
    const gone = await discovery(staging.issuer('ephemeral'));
    const body = (await gone.json()) as Record<string, unknown>;
    assert.equal(gone.status, 400, JSON.stringify(body));
    assert.equal(typeof body.error, 'string');
    assert.equal(body.correlation_id, gone.headers.get('x-correlation-id'));
  });
});

// Rule: the last page of many tenants reads about as many rows as the first (keyset paging on the slug index); offset paging reads every row before its page.
describe('tenant list paging at scale', () => {
  const BULK = 2_000;
  const LIMIT = 50;

  before(async () => {
    // Rows only (no keys): listing reads nothing else, and 2,000 tenants through the API would take minutes.
    await t.atrium.services.db.crossTenant('test: bulk tenants', async (q) => {
      await q.query(`INSERT INTO tenants (id, slug, name) SELECT gen_random_uuid(), 'bulk-' || lpad(i::text, 5, '0'), 'Bulk ' || i FROM generate_series(1, ${BULK}) AS i`);
      await q.query('ANALYZE tenants');
    });
  });
  after(async () => {
    await t.atrium.services.db.crossTenant('test: drop bulk tenants', (q) => q.query("DELETE FROM tenants WHERE slug LIKE 'bulk-%'"));
  });

  /** Rows the plan's scans of `tenants` produced or filtered away, from EXPLAIN ANALYZE. */
  async function tenantRowsRead(params: unknown[]): Promise<number> {
    const explained = await t.atrium.services.db.crossTenant('test: explain tenant page', (q) =>
      q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${TENANT_LIST_QUERIES.page}`, params),
    );
    const raw = explained.rows[0]!['QUERY PLAN'];
    const [root] = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: PlanNode }];
    let rows = 0;
    const visit = (node: PlanNode) => {
      if (node['Relation Name'] === 'tenants') rows += node['Actual Rows'] * node['Actual Loops'] + (node['Rows Removed by Filter'] ?? 0);
      for (const child of node.Plans ?? []) visit(child);
    };
    visit(root.Plan);
    return rows;
  }

  it('serves the last page by cursor reading a bounded number of rows, where offset reads them all', async () => {
    // The cursor of the last page comes from the API, by walking it.
    let cursor: string | null = null;
    let page: { tenants: { slug: string }[]; next_cursor: string | null; total: number };
    do {
      const res = await t.api('GET', `/tenants?limit=200&search=bulk-${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      page = res.body;
      cursor = page.next_cursor;
    } while (cursor);
    assert.equal(page.total, BULK);
    assert.equal(page.tenants.at(-1)!.slug, `bulk-${String(BULK).padStart(5, '0')}`);

    const lastSlugBefore = `bulk-${String(BULK - LIMIT).padStart(5, '0')}`;
    // The statement the API runs, as it runs it for the first and the last page of 50.
    const first = await tenantRowsRead([null, null, LIMIT + 1, 0]);
    const last = await tenantRowsRead([null, lastSlugBefore, LIMIT + 1, 0]);
    const lastByOffset = await tenantRowsRead([null, null, LIMIT + 1, BULK - LIMIT]);
    assert.ok(first <= LIMIT + 1, `first page read ${first} rows`);
    assert.ok(last <= 2 * (LIMIT + 1), `last page by cursor read ${last} rows (first page: ${first})`);
    assert.ok(lastByOffset >= BULK - LIMIT, `the same page by offset read ${lastByOffset} rows: the measure sees a full scan`);
  });
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
