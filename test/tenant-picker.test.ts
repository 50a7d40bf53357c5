/**
 * The public tenant picker (issue 14, item 5): `GET /tenants` on the platform host lists the
 * tenants that opted in (`features.tenant_picker`) as JSON or a page, and finds a listed
 * tenant's sign-in from a work address (home-realm discovery). An unlisted tenant is never
 * revealed: its domain gets the answer of an unknown domain, in the same time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { getOnPort, hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { comparablePage, ROOMY_RATE_LIMITS } from './support/account-security.ts';
import { assertSameTime, elapsed } from './support/timing.ts';
import { chromiumMissing, launchChromium, PHONE, watchCspViolations } from './support/browser.ts';
import { PICKER_QUERIES } from '../src/federation/tenant-picker.ts';

let t: TestAtrium;
let acme: TenantFixture; // listed; its connection "corp" claims corp.test, upstream: the tenant idp
let globex: TenantFixture; // never listed; its connection claims hidden.test
const LOGO = 'https://cdn.example.test/initech.png';
const LOGO_DARK = 'https://cdn.example.test/initech-dark.png';

async function ok(method: string, path: string, body?: unknown) {
  const res = await t.api(method, path, body);
  assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}
const setListed = (slug: string, listed: boolean) => ok('PUT', `/tenants/${slug}/config/features`, { tenant_picker: listed });

/** GET /tenants on the platform host, as an API caller. */
async function picker(query = '', headers: Record<string, string> = {}) {
  const res = await httpFetch(`${t.baseUrl}/tenants${query}`, { headers: { accept: 'application/json', ...headers } });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, body: text.startsWith('{') ? JSON.parse(text) : undefined };
}

const listedSlugs = async () => ((await picker()).body.tenants as { slug: string }[]).map((e) => e.slug);

before(async () => {
  t = await startTestAtrium();
  // The picker counts requests with the platform tenant's sign-in limit; this file makes many.
  await ok('PUT', '/tenants/_platforms/config/security', { rate_limits: ROOMY_RATE_LIMITS });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  await createTenantFixture(t, 'initech');
  await createTenantFixture(t, 'idp');
  const upstream = await ok('POST', '/tenants/idp/clients', { client_name: 'acme downstream', redirect_uris: [`${t.issuer('acme')}/federation/callback`], grant_types: ['authorization_code'], response_types: ['code'] });
  const connection = { provider: 'generic_oidc', issuer: t.issuer('idp'), client_id: upstream.client_id, client_secret: upstream.client_secret };
  await ok('PUT', '/tenants/acme/federation/corp', { ...connection, display_name: 'Corp SSO', home_realm_domains: ['corp.test'] });
  await ok('PUT', '/tenants/globex/federation/hidden', { ...connection, home_realm_domains: ['hidden.test'] });
  await ok('PUT', '/tenants/initech/config/branding', { company_name: 'Initech Corporation', logos: { light: LOGO, dark: LOGO_DARK } });
  await setListed('acme', true);
  await setListed('initech', true);
});
after(() => t?.stop());

describe('the listing', () => {
  it('lists only the tenants that opted in, with display name, logo and a sign-in URL on each issuer', async () => {
    // A custom primary domain: the sign-in URL follows the tenant's issuer, not the host asked.
    assert.equal((await t.addVerifiedDomain('initech', 'login.initech.test', { primary: true })).status, 201);
    const res = await picker();
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.body.tenants, [
      { slug: 'acme', display_name: 'acme Inc.', logo_uri: null, logo_dark_uri: null, issuer: t.issuer('acme'), sign_in_url: `${t.issuer('acme')}/account/login` },
      { slug: 'initech', display_name: 'Initech Corporation', logo_uri: LOGO, logo_dark_uri: LOGO_DARK, issuer: `http://login.initech.test`, sign_in_url: 'http://login.initech.test/account/login' },
    ]);
    assert.equal(res.body.next_cursor, null);
    assert.doesNotMatch(res.text, /globex|idp|_platforms/, 'unlisted and reserved tenants are absent');
    for (const v of ['Accept', 'Accept-Language', 'x-tenant-id']) assert.match(res.headers.get('vary') ?? '', new RegExp(v, 'i'), `Vary names ${v}`);
    assert.equal(res.headers.get('cache-control'), 'public, max-age=60');
  });

  it('pages by cursor, and the page query is served by the partial index of listed tenants', async () => {
    const seen: string[] = [];
    let query = '?limit=1';
    for (let i = 0; i < 5; i++) {
      const res = await picker(query);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.tenants.length, 1);
      seen.push(res.body.tenants[0].slug);
      if (!res.body.next_cursor) break;
      query = `?limit=1&after=${res.body.next_cursor}`;
    }
    assert.deepEqual(seen, ['acme', 'initech']);
    // Seq scans off: if the predicate did not match the index's, this plan would still be a Seq Scan.
    const plan = await t.atrium.services.db.crossTenant('test: picker plan', async (q) => {
      await q.query('SET LOCAL enable_seqscan = off');
      return (await q.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${PICKER_QUERIES.page}`, ['', '_platforms', 51])).rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    assert.match(plan, /tenants_picker/, plan);
    const discovery = await t.atrium.services.db.crossTenant('test: discovery plan', async (q) => {
      await q.query('SET LOCAL enable_seqscan = off');
      return (await q.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${PICKER_QUERIES.discover}`, ['corp.test', '_platforms', 10])).rows.map((r) => r['QUERY PLAN']).join('\n');
    });
    assert.match(discovery, /tenants_picker/, discovery);
  });

  it('renders a page for browsers, in their language, with each tenant linked to its sign-in', async () => {
    const res = await httpFetch(`${t.baseUrl}/tenants`, { headers: { accept: 'text/html', 'accept-language': 'fr' } });
    const html = await res.text();
    assert.equal(res.status, 200, html.slice(0, 300));
    assert.match(html, /Choisissez votre organisation/);
    assert.match(html, new RegExp(`href="${t.issuer('acme')}/account/login"`));
    assert.match(html, /href="http:\/\/login\.initech\.test\/account\/login"/);
    assert.match(html, /Se connecter à Initech Corporation/);
    assert.match(html, new RegExp(`src="${LOGO}"`));
    assert.match(html, new RegExp(`srcset="${LOGO_DARK}"`));
    assert.doesNotMatch(html, /globex/);
    const chosen = await httpFetch(`${t.baseUrl}/tenants?lang=fr`, { headers: { accept: 'text/html', 'accept-language': 'en' } });
    assert.match(await chosen.text(), /Choisissez votre organisation/, '?lang= wins over Accept-Language');
  });

  it('is not served on a tenant host, nor for a tenant named by header', async () => {
    const onHost = await getOnPort(t.port, '/tenants', { host: `acme.localhost:${t.port}`, accept: 'application/json' });
    assert.equal(onHost.status, 404, onHost.text);
    const byHeader = await getOnPort(t.port, '/tenants', { host: `localhost:${t.port}`, 'x-tenant-id': 'acme', accept: 'application/json' });
    assert.equal(byHeader.status, 404, byHeader.text);
    const page = await getOnPort(t.port, '/tenants?email=a@corp.test', { host: `acme.localhost:${t.port}`, accept: 'text/html' });
    assert.equal(page.status, 404);
    assert.doesNotMatch(page.text, /account\/login/);
  });

  it('refuses the platform tenant opting in, naming the field', async () => {
    const res = await t.api('PUT', '/tenants/_platforms/config/features', { tenant_picker: true });
    assert.equal(res.status, 400);
    assert.match(res.body.error_description, /features\.tenant_picker: not on the platform tenant/);
  });
});

describe('changing the listing', () => {
  it('features.tenant_picker through the API lists and unlists at once, and the config audit event says so', async () => {
    assert.ok((await listedSlugs()).includes('acme'));
    await setListed('acme', false);
    assert.ok(!(await listedSlugs()).includes('acme'), 'unlisted at the next request');
    const hrd = await picker('?email=alice@corp.test');
    assert.deepEqual(hrd.body.tenants, [], "an unlisted tenant's domain finds nothing");
    await setListed('acme', true);
    assert.ok((await listedSlugs()).includes('acme'));
    const events = (await ok('GET', '/tenants/acme/audit?action=tenant.config_changed&limit=10')).events as { details: Record<string, unknown> }[];
    assert.deepEqual(events.slice(0, 2).map(({ details: { section, tenant_picker } }) => ({ section, tenant_picker })), [{ section: 'features', tenant_picker: true }, { section: 'features', tenant_picker: false }]);
  });

  it("an admin lists and unlists the tenant from /admin/branding, keeping the rest of its features; another tenant's admin cannot", async () => {
    await ok('PUT', '/tenants/acme/config/features', { enterprise_sso: true, tenant_picker: false });
    const signIn = await signInToConsole(acme.issuer, { email: acme.email, password: acme.password }, '/admin/branding');
    assert.equal(signIn.status, 200, signIn.html.slice(0, 300));
    assert.doesNotMatch(signIn.html, /name="tenant_picker" checked/);
    const csrf = hiddenInput(signIn.html, 'csrf');
    const on = await signIn.browser.postForm(`${acme.issuer}/admin/branding/listing`, { csrf, tenant_picker: 'on' });
    assert.equal(on.status, 303, await on.text());
    assert.ok((await listedSlugs()).includes('acme'));
    const page = await (await signIn.browser.request(`${acme.issuer}/admin/branding`)).text();
    assert.match(page, /name="tenant_picker" checked/);
    const features = (await ok('GET', '/tenants/acme/config')).features;
    assert.equal(features.enterprise_sso, true, 'the rest of the section is kept');

    // globex's owner, signed in at globex, posts to acme's form: acme's cookie is not theirs.
    const other = await signInToConsole(globex.issuer, { email: globex.email, password: globex.password }, '/admin/branding');
    const foreign = await other.browser.postForm(`${acme.issuer}/admin/branding/listing`, { csrf: hiddenInput(other.html, 'csrf') });
    assert.notEqual(foreign.status, 303);
    assert.ok((await listedSlugs()).includes('acme'), 'still listed');
    const own = await other.browser.postForm(`${globex.issuer}/admin/branding/listing`, { csrf: hiddenInput(other.html, 'csrf') });
    assert.equal(own.status, 303);
    assert.ok(!(await listedSlugs()).includes('globex'));

    const off = await signIn.browser.postForm(`${acme.issuer}/admin/branding/listing`, { csrf });
    assert.equal(off.status, 303);
    assert.ok(!(await listedSlugs()).includes('acme'));
    await setListed('acme', true);
  });
});

describe('home-realm discovery', () => {
  it("a listed tenant's domain answers its sign-in and connection; an unlisted tenant's answers as an unknown domain", async () => {
    const found = await picker('?email=Alice@Corp.test');
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(found.body, {
      domain: 'corp.test',
      tenants: [{ slug: 'acme', display_name: 'acme Inc.', logo_uri: null, logo_dark_uri: null, issuer: t.issuer('acme'), connection: 'corp', sign_in_url: `${t.issuer('acme')}/account/login?login_hint=Alice%40Corp.test` }],
    });
    assert.equal(found.headers.get('cache-control'), 'no-store');
    const hidden = await picker('?email=bob@hidden.test');
    const unknown = await picker('?email=bob@unknown.test');
    assert.equal(hidden.status, unknown.status);
    assert.equal(hidden.text.replace('hidden.test', 'D'), unknown.text.replace('unknown.test', 'D'));
    assert.deepEqual(unknown.body.tenants, []);
    for (const name of ['content-type', 'cache-control', 'vary']) assert.equal(hidden.headers.get(name), unknown.headers.get(name), name);

    const pages = await Promise.all(['bob@hidden.test', 'bob@unknown.test'].map(async (email) => {
      const res = await httpFetch(`${t.baseUrl}/tenants?email=${encodeURIComponent(email)}`, { headers: { accept: 'text/html' } });
      return { status: res.status, html: comparablePage(await res.text()).replaceAll(email.split('@')[1]!, 'D').replaceAll(email, 'E') };
    }));
    assert.equal(pages[0]!.status, 200);
    assert.equal(pages[0]!.html, pages[1]!.html);
    assert.match(pages[0]!.html, /No listed organisation signs in people from D/);
  });

  it('a domain two listed tenants claim offers both: JSON lists them, a browser is shown them rather than sent to one', async () => {
    const idp = await ok('POST', '/tenants/idp/clients', { redirect_uris: [`${t.issuer('initech')}/federation/callback`], grant_types: ['authorization_code'], response_types: ['code'] });
    await ok('PUT', '/tenants/initech/federation/corp-too', { provider: 'generic_oidc', issuer: t.issuer('idp'), client_id: idp.client_id, client_secret: idp.client_secret, home_realm_domains: ['corp.test'] });
    try {
      const both = await picker('?email=carol@corp.test');
      assert.deepEqual(both.body.tenants.map((e: { slug: string; connection: string }) => [e.slug, e.connection]), [['acme', 'corp'], ['initech', 'corp-too']]);
      const res = await httpFetch(`${t.baseUrl}/tenants?email=carol%40corp.test`, { headers: { accept: 'text/html' }, redirect: 'manual' });
      const html = await res.text();
      assert.equal(res.status, 200, html.slice(0, 300));
      assert.match(html, new RegExp(`href="${t.issuer('acme')}/account/login\\?login_hint=carol%40corp\\.test"`));
      assert.match(html, /href="http:\/\/login\.initech\.test\/account\/login\?login_hint=carol%40corp\.test"/);
    } finally {
      await ok('DELETE', '/tenants/initech/federation/corp-too');
    }
  });

  it('a connection that is off, or a tenant with enterprise SSO off, is not found', async () => {
    await ok('PUT', '/tenants/acme/config/features', { tenant_picker: true, enterprise_sso: false });
    assert.deepEqual((await picker('?email=a@corp.test')).body.tenants, []);
    await ok('PUT', '/tenants/acme/config/features', { tenant_picker: true });
    assert.equal((await picker('?email=a@corp.test')).body.tenants.length, 1);
  });

  it("a browser is sent to the tenant's sign-in, which starts filled in and takes the address to its upstream", async () => {
    const browser = new TestBrowser();
    const res = await browser.request(`${t.baseUrl}/tenants?email=alice%40corp.test`);
    assert.equal(res.status, 303);
    const signIn = res.headers.get('location')!;
    assert.equal(signIn, `${t.issuer('acme')}/account/login?login_hint=alice%40corp.test`);
    const login = await browser.follow(signIn);
    const html = await login.res.text();
    assert.equal(login.res.status, 200, html.slice(0, 300));
    assert.match(html, /value="alice@corp\.test"/, 'the login page starts with the address');
    const upstream = await browser.postForm(new URL(`${login.url.pathname}/login`, login.url), { csrf: hiddenInput(html, 'csrf'), email: 'alice@corp.test', password: '' });
    assert.equal(upstream.status, 303, (await upstream.text()).slice(0, 300));
    assert.equal(new URL(upstream.headers.get('location')!).origin, t.issuer('idp'), "on to the connection's upstream");
  });

  it('answers bad input with a clear 400, never a 500', async () => {
    const cases: [string, RegExp][] = [
      ['?email=not-an-email', /email: must be an email address/],
      ['?email=a@b', /email: must be an email address/],
      [`?email=${'a'.repeat(1000)}@corp.test`, /email: at most 320 characters/],
      ['?email=a%40corp.test%0Abcc%40x.test', /email: must be an email address/],
      ['?limit=0', /limit/],
      ['?limit=1000', /limit/],
      ['?after=..%2F..', /after: must be the next_cursor/],
      ['?email=a@corp.test&limit=5', /limit: not taken with email/],
      ['?tenant=acme', /unrecognized key.*tenant|tenant/i],
      ['?lang=fr', /lang: only the page/],
    ];
    for (const [query, message] of cases) {
      const res = await picker(query);
      assert.equal(res.status, 400, `${query}: ${res.text}`);
      assert.equal(res.body.error, 'invalid_request');
      assert.match(res.body.error_description, message, query);
      assert.ok(res.body.correlation_id, 'a correlation id');
    }
    const huge = await getOnPort(t.port, `/tenants?email=${'x'.repeat(70_000)}@corp.test`, { host: `localhost:${t.port}`, accept: 'application/json' });
    assert.ok(huge.status >= 400 && huge.status < 500, `a huge query is refused: ${huge.status}`);
    const hint = await new TestBrowser().request(`${acme.issuer}/account/login?login_hint=${'y'.repeat(400)}@corp.test`);
    assert.equal(hint.status, 400, 'a login_hint that is no address is refused');
  });

  it("an unlisted tenant's domain and an unknown domain take the same time", async () => {
    const ask = (domain: string) => async () => {
      const res = await picker(`?email=${randomBytes(4).toString('hex')}@${domain}`);
      assert.equal(res.status, 200, res.text);
      return JSON.stringify(res.body.tenants);
    };
    const hidden = ask('hidden.test');
    const unknown = () => ask(`nowhere-${randomBytes(4).toString('hex')}.test`)();
    for (let i = 0; i < 3; i++) assert.equal(await hidden(), await unknown(), 'the same answer');
    await assertSameTime('home-realm discovery', async () => {
      const as: number[] = [];
      const bs: number[] = [];
      for (let i = 0; i < 20; i++) {
        // ABBA order, as in enumeration-timing.test.ts.
        if (i % 2 === 0) {
          as.push(await elapsed(hidden));
          bs.push(await elapsed(unknown));
        } else {
          bs.push(await elapsed(unknown));
          as.push(await elapsed(hidden));
        }
      }
      return [as, bs];
    });
  });
});

describe('in Chromium', { skip: chromiumMissing() }, () => {
  it('the picker page lists the tenants, and a work email typed in lands on its tenant\'s login page, filled in', async () => {
    const browser = await launchChromium();
    try {
      const page = await (await browser.newContext(PHONE)).newPage();
      const csp = watchCspViolations(page);
      await page.goto(`${t.baseUrl}/tenants`, { waitUntil: 'domcontentloaded' });
      assert.equal(await page.locator('h1').textContent(), 'Choose your organisation');
      assert.deepEqual(await page.locator('.picker-entry').evaluateAll((items) => items.map((li) => li.getAttribute('data-tenant'))), ['acme', 'initech']);
      await page.fill('#email', 'alice@corp.test');
      await Promise.all([page.waitForURL(/\/interaction\//, { waitUntil: 'domcontentloaded' }), page.click('.picker-find button')]);
      assert.equal(new URL(page.url()).origin, t.issuer('acme'));
      assert.equal(await page.inputValue('input[name="email"]'), 'alice@corp.test');
      assert.deepEqual(csp, [], 'no Content-Security-Policy violation');
    } finally {
      await browser.close();
    }
  });
});

describe('rate limit', () => {
  it("is limited per IP with the platform tenant's sign-in limit: 429 with Retry-After", async () => {
    await ok('PUT', '/tenants/_platforms/config/security', { rate_limits: { login_per_ip: { limit: 3, window_seconds: 60 } } });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof picker>> | undefined;
    for (let i = 0; i < 5; i++) {
      last = await picker('?email=a@corp.test');
      statuses.push(last.status);
    }
    assert.ok(statuses.includes(429), statuses.join(','));
    assert.equal(last!.status, 429);
    assert.ok(Number(last!.headers.get('retry-after')) > 0);
    assert.equal(last!.body.error, 'rate_limited');
  });
});
