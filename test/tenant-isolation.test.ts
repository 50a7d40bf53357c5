/**
 * The isolation rules, each proved between two tenants of one deployment: accounts, sessions
 * and cookies, tokens at userinfo and introspection, clients, codes, and the database itself.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, discover, REDIRECT_URI, SignInRefused, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { MissingTenantContextError } from '../src/storage/database.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

async function authUrlFor(fixture: TenantFixture, clientId = fixture.clientId, secret = fixture.clientSecret): Promise<{ url: URL; config: oidc.Configuration; verifier: string }> {
  const config = await discover(fixture.issuer, clientId, secret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url, config, verifier };
}

async function signedInTokens(fixture: TenantFixture) {
  const { url, config, verifier } = await authUrlFor(fixture);
  const { callback, browser } = await signInThroughPages(url, fixture);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, idTokenExpected: true });
  return { tokens, config, browser };
}

describe('accounts', () => {
  it('the same credentials do not sign in at another tenant', async () => {
    const { url } = await authUrlFor(globex);
    await assert.rejects(signInThroughPages(url, { email: acme.email, password: acme.password }), (err: SignInRefused) => {
      assert.equal(err.status, 401);
      assert.match(err.page, /email or password is incorrect/);
      return true;
    });
  });

  it('the same email in two tenants is two unrelated accounts', async () => {
    const shared = 'same.person@example.test';
    const a = await t.api('POST', '/tenants/acme/users', { email: shared, password: 'acme-side-password-1' });
    const g = await t.api('POST', '/tenants/globex/users', { email: shared, password: 'globex-side-password-2' });
    assert.equal(a.status, 201);
    assert.equal(g.status, 201);
    assert.notEqual(a.body.id, g.body.id);
    const { url } = await authUrlFor(globex);
    await assert.rejects(signInThroughPages(url, { email: shared, password: 'acme-side-password-1' }), SignInRefused);
  });
});

describe('sessions and cookies', () => {
  it("a tenant's session cookie is not honoured by another tenant reached on the same host through the tenant header", async () => {
    // Both tenants are reached on the bare host, chosen by the x-tenant-id header.
    const viaHeader = (fixture: TenantFixture) => ({ 'x-tenant-id': fixture.slug });
    const browser = new TestBrowser();
    const acmeConfig = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    const start = (config: oidc.Configuration, clientId: string) => {
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'z'.repeat(43), code_challenge_method: 'S256' });
      const local = new URL(`${t.baseUrl}${url.pathname}${url.search}`);
      local.searchParams.set('client_id', clientId);
      return local;
    };
    // Sign in at acme through the header.
    let res = await browser.request(start(acmeConfig, acme.clientId), { headers: viaHeader(acme) });
    let page = await browser.request(new URL(res.headers.get('location')!, t.baseUrl), { headers: viaHeader(acme) });
    const html = await page.text();
    res = await browser.postForm(`${page.url.replace(/\/$/, '')}/login`, { csrf: hiddenInput(html, 'csrf'), email: acme.email, password: acme.password }, viaHeader(acme));
    assert.equal(res.status, 303);
    // The resume URL is on acme's issuer (issue 18: URLs come from the issuer); this client
    // stays on the bare host, as a gateway fronting the header strategy would.
    const resume = new URL(res.headers.get('location')!, t.baseUrl);
    await browser.follow(new URL(`${t.baseUrl}${resume.pathname}${resume.search}`), (u) => u.href.startsWith(REDIRECT_URI), { headers: viaHeader(acme) });
    const cookies = browser.jar.get(new URL(t.baseUrl).host)!;
    assert.ok([...cookies.keys()].some((k) => k.startsWith('atrium.acme.session')), 'acme set its session cookie');

    // Same browser, same host, globex chosen by header: the login form is shown, no SSO.
    const globexConfig = await discover(globex.issuer, globex.clientId, globex.clientSecret);
    res = await browser.request(start(globexConfig, globex.clientId), { headers: viaHeader(globex) });
    page = await browser.request(new URL(res.headers.get('location')!, t.baseUrl), { headers: viaHeader(globex) });
    assert.match(await page.text(), /name="password"/);

    // Even acme's cookie values copied under globex's cookie names are not honoured:
    // cookies are signed with per-tenant keys and sessions are stored per tenant.
    for (const [name, value] of [...cookies]) cookies.set(name.replace('atrium.acme.', 'atrium.globex.'), value);
    res = await browser.request(start(globexConfig, globex.clientId), { headers: viaHeader(globex) });
    page = await browser.request(new URL(res.headers.get('location')!, t.baseUrl), { headers: viaHeader(globex) });
    assert.match(await page.text(), /name="password"/);
  });

  it("a session created at one tenant's host is not used at another tenant's host", async () => {
    const { browser } = await signedInTokens(acme);
    const acmeHost = new URL(acme.issuer).host;
    const globexHost = new URL(globex.issuer).host;
    // Move every acme cookie to globex's host under globex's names.
    const moved = new Map([...browser.jar.get(acmeHost)!].map(([k, v]) => [k.replace('atrium.acme.', 'atrium.globex.'), v]));
    browser.jar.set(globexHost, moved);
    const { url } = await authUrlFor(globex);
    const step = await browser.follow(url, (u) => u.href.startsWith(REDIRECT_URI));
    assert.match(await step.res.text(), /name="password"/, 'globex asks for credentials');
  });
});

describe('tokens', () => {
  it("an access token of one tenant is refused at another tenant's userinfo", async () => {
    const { tokens } = await signedInTokens(acme);
    const res = await httpFetch(`${globex.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(res.status, 401);
    const own = await httpFetch(`${acme.issuer}/me`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(own.status, 200);
  });

  it("an access or refresh token of one tenant is inactive at another tenant's introspection", async () => {
    const { tokens } = await signedInTokens(acme);
    const globexConfig = await discover(globex.issuer, globex.clientId, globex.clientSecret);
    assert.equal((await oidc.tokenIntrospection(globexConfig, tokens.access_token)).active, false);
    const acmeConfig = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    assert.equal((await oidc.tokenIntrospection(acmeConfig, tokens.access_token)).active, true);
  });

  it('a refresh token of one tenant cannot be redeemed at another (read under the other tenant, it is not there), and stays good at its own', async () => {
    const request = await authorizationRequest(acme.issuer, acme, { scope: 'openid email offline_access', prompt: 'consent' });
    const { callback } = await signInThroughPages(request.url, acme);
    const tokens = await oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
    assert.ok(tokens.refresh_token);
    const res = await httpFetch(`${globex.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${globex.clientId}:${globex.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens.refresh_token }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    const own = await oidc.refreshTokenGrant(request.config, tokens.refresh_token);
    assert.ok(own.access_token && own.refresh_token, 'not spent by the attempt at the other tenant');
  });

  it("a client of one tenant cannot get client-credentials tokens at another tenant", async () => {
    const res = await httpFetch(`${globex.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${acme.m2mClientId}:${acme.m2mClientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    assert.equal(res.status, 401);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_client');
  });

  it("an authorization request naming another tenant's client is refused", async () => {
    const config = await discover(globex.issuer, acme.clientId, acme.clientSecret);
    const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'q'.repeat(43), code_challenge_method: 'S256' });
    const res = await httpFetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
    assert.match(await res.text(), /client/i);
  });

  it("an authorization code of one tenant cannot be redeemed at another", async () => {
    const { url, verifier } = await authUrlFor(acme);
    const { callback } = await signInThroughPages(url, acme);
    const res = await httpFetch(`${globex.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${globex.clientId}:${globex.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: callback.searchParams.get('code')!, redirect_uri: REDIRECT_URI, code_verifier: verifier }).toString(),
    });
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
  });

  it("an ID token of one tenant is refused as id_token_hint at another tenant's logout", async () => {
    const { tokens } = await signedInTokens(acme);
    const res = await httpFetch(`${globex.issuer}/session/end?id_token_hint=${tokens.id_token}`, { headers: { accept: 'text/html' } });
    assert.equal(res.status, 400);
  });

  it('the management API gives a token of an ordinary tenant no platform access', async () => {
    const config = await discover(acme.issuer, acme.m2mClientId, acme.m2mClientSecret);
    const { access_token } = await oidc.clientCredentialsGrant(config, {});
    assert.equal((await t.api('GET', '/tenants', undefined, access_token)).status, 403);
    assert.equal((await t.api('GET', '/tenants/globex/users', undefined, access_token)).status, 404);
  });
});

describe('database row-level security', () => {
  const raw = () => t.atrium.services.db.driver;
  const tenantId = async (slug: string) => (await t.atrium.services.tenantStore.findBySlug(slug))!.id;

  it('as the app role without a tenant context, every tenant-owned table reads empty', async () => {
    for (const table of ['users', 'oidc_clients', 'signing_keys', 'oidc_payloads', 'audit_events', 'tenant_domains', 'tenants']) {
      const rows = await raw().transaction('SET LOCAL ROLE atrium_app', (q) => q.query(`SELECT * FROM ${table}`));
      assert.equal(rows.rowCount, 0, `${table} must be empty without a tenant context`);
    }
  });

  it('in a tenant context the application opens, only that tenant\'s rows are visible', async () => {
    const acmeId = await tenantId('acme');
    const rows = await runAsTenant(acmeId, () => t.atrium.services.db.withTenant((q) => q.query<{ tenant_id: string }>('SELECT tenant_id FROM users')));
    assert.ok(rows.rowCount > 0);
    assert.ok(rows.rows.every((r) => r.tenant_id === acmeId));
  });

  it('a tenant id set by SQL itself (no proof of the application) opens no tenant, nor does SET ROLE atrium_platform', async () => {
    const acmeId = await tenantId('acme');
    for (const setup of [`SET LOCAL ROLE atrium_app; SET LOCAL app.tenant_id = '${acmeId}'`, `SET LOCAL ROLE atrium_app; SELECT set_config('app.tenant_id', '${acmeId}', true)`, 'SET LOCAL ROLE atrium_platform']) {
      for (const table of ['users', 'oidc_clients', 'signing_keys', 'tenants']) {
        const rows = await raw().transaction(setup, (q) => q.query(`SELECT * FROM ${table}`));
        assert.equal(rows.rowCount, 0, `${setup}: ${table}`);
      }
    }
  });

  it("the app role cannot write a row into another tenant", async () => {
    const [acmeId, globexId] = [await tenantId('acme'), await tenantId('globex')];
    await assert.rejects(
      runAsTenant(acmeId, () => t.atrium.services.db.withTenant((q) =>
        q.query(`INSERT INTO users (tenant_id, id, email) VALUES ($1, gen_random_uuid(), 'intruder@example.test')`, [globexId]),
      )),
      /row-level security/,
    );
  });

  it('the app role owns no table, so it cannot switch row-level security off', async () => {
    await assert.rejects(raw().transaction('SET LOCAL ROLE atrium_app', (q) => q.query('ALTER TABLE users DISABLE ROW LEVEL SECURITY')), /owner|permission/);
  });

  it('a tenant-scoped query without a tenant context throws before reaching the database', async () => {
    await assert.rejects(t.atrium.services.users.findByEmail(acme.email), MissingTenantContextError);
    const found = await runAsTenant(await tenantId('globex'), () => t.atrium.services.users.findByEmail(acme.email));
    assert.equal(found, undefined, "globex's context cannot see acme's user");
  });
});
