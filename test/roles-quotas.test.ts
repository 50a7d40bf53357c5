/**
 * Roles and quotas per tenant (issue 13, item 5), through the management API and a real
 * relying party (openid-client): custom roles and their assignment, the roles new users get
 * (security.roles), the opt-in `roles` claim, and the quotas the platform sets. Every case
 * checks that one tenant's roles and quotas never touch another's.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { setSecurity } from './support/account-security.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import { authorizationRequest as downstreamRequest, finishDownstream, signInAtPlainUpstream, startAtUpstream } from './support/federation-flow.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let plain: PlainProvider;
const ROOT = { email: 'root@platform.test', password: 'platform-root-correct-horse' };

async function tenantToken(fixture: TenantFixture, scope: string): Promise<string> {
  const client = await t.api('POST', `/tenants/${fixture.slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const config = await discover(fixture.issuer, client.body.client_id, client.body.client_secret);
  return (await oidc.clientCredentialsGrant(config, { scope })).access_token;
}

async function auditOf(slug: string, action: string) {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events as { action: string; actor: string | null; target: string | null; details: Record<string, any> }[];
}

async function createRole(slug: string, name: string, description?: string) {
  const res = await t.api('POST', `/tenants/${slug}/roles`, { name, ...(description ? { description } : {}) });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

async function putQuotas(slug: string, quotas: Record<string, unknown>) {
  const res = await t.api('PUT', `/tenants/${slug}/quotas`, quotas);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function newTenant(slug: string) {
  const res = await t.api('POST', '/tenants', { slug, name: `${slug} Inc.` });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

before(async () => {
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ROOT.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ROOT.password });
  [acme, globex] = [await createTenantFixture(t, 'acme'), await createTenantFixture(t, 'globex')];
  plain = await startPlainProvider({
    redirectUris: ['acme', 'globex', 'tiny'].map((slug) => `${t.issuer(slug)}/federation/callback`),
    accounts: {
      'jit-1': { email: 'jit1@corp.test', email_verified: true, name: 'Jit One' },
      'jit-2': { email: 'jit2@corp.test', email_verified: true, name: 'Jit Two' },
      'jit-3': { email: 'jit3@corp.test', email_verified: true, name: 'Jit Three' },
    },
  });
});
after(async () => {
  await plain?.close();
  await t?.stop();
});

/** A first federated sign-in of `email` at the tenant's "plain" connection: the page the browser ends on. */
async function federatedSignIn(fixture: TenantFixture, email: string) {
  const browser = new TestBrowser();
  const request = await downstreamRequest(fixture);
  const upstream = await startAtUpstream(browser, request, 'plain');
  const callback = await signInAtPlainUpstream(browser, upstream, email, t.port);
  return finishDownstream(browser, callback);
}

/** Fills in the tenant's signup form (open signup) from its login page: the answer's status and page. */
async function submitSignup(f: TenantFixture, fields: { email: string; password: string }) {
  const browser = new TestBrowser();
  const url = new URL(`${f.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: f.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'signup-state' }).toString();
  const page = await browser.follow(url);
  const link = /href="(\/interaction\/[^"]+\/signup)"/.exec(await page.res.text());
  assert.ok(link, 'the login page links to signup');
  const form = await browser.request(new URL(link[1]!, f.issuer));
  const res = await browser.postForm(new URL(link[1]!, f.issuer), { csrf: hiddenInput(await form.text(), 'csrf'), name: 'New Person', email: fields.email, password: fields.password });
  return { status: res.status, html: res.status === 303 ? '' : await res.text() };
}

async function connectPlain(slug: string) {
  const res = await t.api('PUT', `/tenants/${slug}/federation/plain`, { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
}

describe('custom roles', () => {
  it('are created, listed, described and deleted per tenant, each change audited; another tenant sees none of them', async () => {
    const role = await createRole('acme', 'editor', 'Edits the catalogue');
    assert.deepEqual([role.name, role.description, role.users], ['editor', 'Edits the catalogue', 0]);
    assert.deepEqual((await t.api('GET', '/tenants/acme/roles')).body.roles.map((r: { name: string }) => r.name), ['editor']);
    assert.deepEqual((await t.api('GET', '/tenants/globex/roles')).body.roles, [], "globex does not see acme's role");
    assertApiError(await t.api('GET', '/tenants/globex/roles/editor'), 404, 'not_found');
    assertApiError(await t.api('DELETE', '/tenants/globex/roles/editor'), 404, 'not_found');

    const own = await tenantToken(globex, 'atrium:tenant:read atrium:tenant:write');
    assertApiError(await t.api('GET', '/tenants/acme/roles', undefined, own), 404);
    assertApiError(await t.api('POST', '/tenants/acme/roles', { name: 'intruder' }, own), 404);
    assert.equal((await t.api('POST', '/tenants/globex/roles', { name: 'editor' }, own)).status, 201, 'the same name is free in another tenant');
    assert.equal((await t.api('GET', '/tenants/acme/roles/editor')).body.description, 'Edits the catalogue', "globex's editor is not acme's");

    const patched = await t.api('PATCH', '/tenants/acme/roles/editor', { description: 'Edits everything' });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));
    assert.equal(patched.body.description, 'Edits everything');
    await createRole('acme', 'temp');
    assert.equal((await t.api('DELETE', '/tenants/acme/roles/temp')).status, 204);
    assertApiError(await t.api('GET', '/tenants/acme/roles/temp'), 404);

    const events = [...(await auditOf('acme', 'role.created')), ...(await auditOf('acme', 'role.updated')), ...(await auditOf('acme', 'role.deleted'))];
    assert.deepEqual(events.map((e) => `${e.action} ${e.target}`).sort(), ['role.created role:editor', 'role.created role:temp', 'role.deleted role:temp', 'role.updated role:editor']);
    assert.ok(events.every((e) => e.actor?.startsWith('client:')), 'audited as the API client');
    assert.deepEqual((await auditOf('globex', 'role.created')).map((e) => e.target), ['role:editor']);
  });

  it('refuses reserved names and their lookalikes, malformed names and unknown fields with a 400 naming the problem', async () => {
    for (const name of ['owner', 'Admin', ' member', 'MEMBER ', 'ad min', 'platform-admin', 'Platform_Admin', 'own\ter']) {
      assertApiError(await t.api('POST', '/tenants/acme/roles', { name }), 400, 'invalid_role', /reserved/);
    }
    for (const name of ['Editor', 'has space', '', 'x'.repeat(65), 'é', 42, null]) {
      assertApiError(await t.api('POST', '/tenants/acme/roles', { name }), 400, 'invalid_role', /^name: /);
    }
    assertApiError(await t.api('POST', '/tenants/acme/roles', { name: 'viewer', colour: 'red' }), 400, 'invalid_role', /colour/);
    assertApiError(await t.api('POST', '/tenants/acme/roles', { name: 'viewer', description: 'x'.repeat(501) }), 400, 'invalid_role', /description/);
    assertApiError(await t.api('PATCH', '/tenants/acme/roles/editor', { name: 'renamed' }), 400, 'invalid_role', /name/);
    assertApiError(await t.api('POST', '/tenants/acme/roles', { name: 'editor' }), 409, 'conflict');
    assert.deepEqual((await t.api('GET', '/tenants/acme/roles')).body.roles.map((r: { name: string }) => r.name), ['editor'], 'nothing was created');
  });

  it('are assigned to users; an unknown role, or one of another tenant, is a 400 naming it', async () => {
    await createRole('acme', 'auditor');
    const user = await t.api('POST', '/tenants/acme/users', { email: 'roles@acme.test', roles: ['member', 'auditor'] });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    assert.deepEqual(user.body.roles, ['member', 'auditor']);
    const patched = await t.api('PATCH', `/tenants/acme/users/${user.body.id}`, { roles: ['member', 'editor'] });
    assert.deepEqual(patched.body.roles, ['member', 'editor']);
    const changed = (await auditOf('acme', 'user.roles_changed')).find((e) => e.target === user.body.id);
    assert.deepEqual([changed?.details.from, changed?.details.to], [['member', 'auditor'], ['member', 'editor']]);

    assertApiError(await t.api('PATCH', `/tenants/acme/users/${user.body.id}`, { roles: ['member', 'ghost'] }), 400, 'unknown_role', /"ghost"/);
    assertApiError(await t.api('POST', '/tenants/acme/users', { email: 'ghost@acme.test', roles: ['ghost'] }), 400, 'unknown_role', /"ghost"/);
    assertApiError(await t.api('POST', '/tenants/acme/invitations', { email: 'ghost2@acme.test', roles: ['spectre'] }), 400, 'unknown_role', /"spectre"/);
    // auditor is acme's: unknown at globex, and platform_admin only exists on the platform tenant.
    assertApiError(await t.api('PATCH', `/tenants/globex/users/${globex.userId}`, { roles: ['owner', 'auditor'] }), 400, 'unknown_role', /"auditor"/);
    assertApiError(await t.api('PATCH', `/tenants/globex/users/${globex.userId}`, { roles: ['owner', 'platform_admin'] }), 400, 'unknown_role', /"platform_admin"/);
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${user.body.id}`)).body.roles, ['member', 'editor'], 'a refused change changes nothing');
    assert.equal((await t.api('GET', '/tenants/acme/users?search=ghost')).body.total, 0);
  });

  it('refuses to delete a role a user holds or a setting names (409), and deletes it once free', async () => {
    await createRole('acme', 'holder');
    const user = await t.api('POST', '/tenants/acme/users', { email: 'holder@acme.test', roles: ['holder'] });
    assertApiError(await t.api('DELETE', '/tenants/acme/roles/holder'), 409, 'conflict', /held by 1 user/);
    assert.equal((await t.api('GET', '/tenants/acme/roles/holder')).body.users, 1);
    await t.api('PATCH', `/tenants/acme/users/${user.body.id}`, { roles: ['member'] });
    await setSecurity(t, 'acme', { roles: { new_user: 'holder' } });
    assertApiError(await t.api('DELETE', '/tenants/acme/roles/holder'), 409, 'conflict', /security\.roles\.new_user/);
    await setSecurity(t, 'acme', {});
    assert.equal((await t.api('DELETE', '/tenants/acme/roles/holder')).status, 204);
  });
});

describe('the roles new users get (security.roles)', () => {
  it('security.roles.new_user: users created without a role get it through the API and federation; another tenant keeps member', async () => {
    await createRole('acme', 'newcomer');
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { roles: { new_user: 'nobody' } }), 400, 'unknown_role', /security\.roles\.new_user: unknown role "nobody"/);
    assertApiError(await t.api('PUT', '/tenants/globex/config/security', { roles: { new_user: 'newcomer' } }), 400, 'unknown_role', /newcomer/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { roles: { new_user: 'Not A Role' } }), 400);
    await setSecurity(t, 'acme', { roles: { new_user: 'newcomer' } });

    const viaApi = await t.api('POST', '/tenants/acme/users', { email: 'fresh@acme.test' });
    assert.deepEqual(viaApi.body.roles, ['newcomer']);
    const given = await t.api('POST', '/tenants/acme/users', { email: 'given@acme.test', roles: ['admin'] });
    assert.deepEqual(given.body.roles, ['admin'], 'roles given explicitly win');
    assert.deepEqual((await t.api('POST', '/tenants/globex/users', { email: 'fresh@globex.test' })).body.roles, ['member']);

    await connectPlain('acme');
    const done = await federatedSignIn(acme, 'jit1@corp.test');
    assert.ok(done.redirect, `${done.status} ${done.html.slice(0, 300)}`);
    const jit = (await t.api('GET', '/tenants/acme/users?search=jit1')).body.users[0];
    assert.deepEqual(jit.roles, ['newcomer'], 'JIT provisioning gives the same role');
    await setSecurity(t, 'acme', {});
  });

  it("security.roles.first_user: a new tenant's first user gets it, the next one new_user", async () => {
    await newTenant('umbrella');
    await setSecurity(t, 'umbrella', { roles: { first_user: 'admin', new_user: 'member' } });
    assert.deepEqual((await t.api('POST', '/tenants/umbrella/users', { email: 'first@umbrella.test' })).body.roles, ['admin']);
    assert.deepEqual((await t.api('POST', '/tenants/umbrella/users', { email: 'second@umbrella.test' })).body.roles, ['member']);
    await newTenant('default-roles');
    assert.deepEqual((await t.api('POST', '/tenants/default-roles/users', { email: 'first@default.test' })).body.roles, ['owner'], 'by default the first user owns the tenant');
  });
});

describe('the roles claim', () => {
  it('is in the ID token, userinfo and the access token (introspection) only with the roles scope', async () => {
    await createRole('acme', 'claims-reader');
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${acme.userId}`, { roles: ['owner', 'claims-reader'] })).status, 200);
    const client = { clientId: acme.clientId, clientSecret: acme.clientSecret };
    for (const scope of ['openid email', 'openid email roles']) {
      const request = await authorizationRequest(acme.issuer, client, { scope });
      const { callback } = await signInThroughPages(request.url, acme);
      const tokens = await oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      const info = await oidc.fetchUserInfo(request.config, tokens.access_token, acme.userId);
      const introspected = await oidc.tokenIntrospection(request.config, tokens.access_token);
      assert.equal(introspected.active, true);
      if (scope.includes('roles')) {
        assert.deepEqual(tokens.claims()!.roles, ['owner', 'claims-reader'], 'ID token');
        assert.deepEqual(info.roles, ['owner', 'claims-reader'], 'userinfo');
        assert.deepEqual(introspected.roles, ['owner', 'claims-reader'], 'access token');
      } else {
        assert.equal(tokens.claims()!.roles, undefined, 'no roles in the ID token without the scope');
        assert.equal(info.roles, undefined, 'nor in userinfo');
        assert.equal(introspected.roles, undefined, 'nor in the access token');
        assert.equal(info.email, acme.email, 'the other claims are there');
      }
    }
    const discovery = (await discover(acme.issuer, acme.clientId, acme.clientSecret)).serverMetadata();
    assert.ok(discovery.scopes_supported?.includes('roles') && discovery.claims_supported?.includes('roles'), 'discovery lists the scope and the claim');
  });
});

describe('quotas', () => {
  it('are set by a platform token only; a tenant reads its own and never another tenant\'s', async () => {
    const own = await tenantToken(globex, 'atrium:tenant:read atrium:tenant:write');
    assertApiError(await t.api('PUT', '/tenants/globex/quotas', { users: 1000 }, own), 403, 'insufficient_scope', /platform/);
    const read = await t.api('GET', '/tenants/globex/quotas', undefined, own);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.quotas.users, null, 'unlimited until set');
    assertApiError(await t.api('GET', '/tenants/acme/quotas', undefined, own), 404);
    assertApiError(await t.api('PUT', '/tenants/acme/quotas', { users: 1 }, own), 404);
    assertApiError(await t.api('PUT', '/tenants/acme/quotas', { users: 1 }, await t.platformToken('atrium:tenants:read')), 403);
  });

  it('refuses negative, non-integer, huge, non-number and unknown quotas with a 400 naming the field; null is unlimited', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ users: -1 }, /^users: must not be negative/],
      [{ clients: 2.5 }, /^clients: must be a whole number/],
      [{ custom_domains: 10_001 }, /^custom_domains: must be at most 10000/],
      [{ management_requests_per_minute: 1e12 }, /^management_requests_per_minute: must be at most 100000/],
      [{ federation_connections: '3' }, /^federation_connections: /],
      [{ users: true }, /^users: /],
      [{ seats: 3 }, /seats/],
    ];
    for (const [body, message] of bad) assertApiError(await t.api('PUT', '/tenants/globex/quotas', body), 400, 'invalid_request', message);
    assertApiError(await t.api('PUT', '/tenants/globex/quotas', [1]), 400);
    assert.equal((await t.api('GET', '/tenants/globex/quotas')).body.quotas.users, null, 'nothing stored');
    const set = await putQuotas('globex', { users: null, clients: 50 });
    assert.deepEqual(set.quotas, { users: null, clients: 50, custom_domains: null, federation_connections: null, management_requests_per_minute: null });
    await putQuotas('globex', {});
  });

  it('users: the next user is a 403 quota_exceeded at the API, invitations, signup and federation; other tenants are unaffected', async () => {
    await newTenant('tiny');
    await setSecurity(t, 'tiny', { signup: { mode: 'open', require_email_verification: false } });
    const web = await t.api('POST', '/tenants/tiny/clients', { client_name: 'tiny web', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'] });
    await connectPlain('tiny');
    const tiny: TenantFixture = { ...acme, slug: 'tiny', issuer: t.issuer('tiny'), clientId: web.body.client_id, clientSecret: web.body.client_secret };
    const report = await putQuotas('tiny', { users: 1 });
    assert.deepEqual([report.quotas.users, report.usage.users], [1, 0]);
    assert.equal((await t.api('POST', '/tenants/tiny/users', { email: 'one@tiny.test' })).status, 201);

    assertApiError(await t.api('POST', '/tenants/tiny/users', { email: 'two@tiny.test' }), 403, 'quota_exceeded', /users quota is 1/);
    assertApiError(await t.api('POST', '/tenants/tiny/invitations', { email: 'three@tiny.test' }), 403, 'quota_exceeded', /users quota is 1/);
    const signup = await submitSignup(tiny, { email: 'four@tiny.test', password: 'a quick passphrase' });
    assert.equal(signup.status, 403, signup.html.slice(0, 300));
    assert.match(signup.html, /users quota is 1/);
    const jit = await federatedSignIn(tiny, 'jit2@corp.test');
    assert.equal(jit.redirect, undefined, 'no sign-in');
    assert.equal(jit.status, 403, jit.html.slice(0, 300));
    assert.match(jit.html, /users quota is 1/);
    assert.equal((await t.api('GET', '/tenants/tiny/users')).body.total, 1, 'nobody was added');
    assert.equal((await t.api('GET', '/tenants/tiny/quotas')).body.usage.users, 1);

    // Globex has no quota: unaffected by tiny's.
    assert.equal((await t.api('POST', '/tenants/globex/users', { email: 'another@globex.test' })).status, 201);
    await putQuotas('tiny', { users: 2 });
    const now = await federatedSignIn(tiny, 'jit2@corp.test');
    assert.ok(now.redirect, 'raised by one: one more user gets in');
    const changes = await auditOf('tiny', 'tenant.quotas_changed');
    assert.deepEqual(new Set(changes.map((e) => `${e.details.from.users}->${e.details.to.users}`)), new Set(['null->1', '1->2']));
    assert.ok(changes.every((e) => e.actor?.startsWith('client:')));
  });

  it('clients, custom_domains and federation_connections: the next one is a 403 quota_exceeded; replacing a connection still works', async () => {
    await newTenant('small');
    await putQuotas('small', { clients: 1, custom_domains: 1, federation_connections: 1 });
    const client = { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] };
    assert.equal((await t.api('POST', '/tenants/small/clients', client)).status, 201);
    assertApiError(await t.api('POST', '/tenants/small/clients', client), 403, 'quota_exceeded', /clients quota is 1/);
    assert.equal((await t.api('POST', '/tenants/small/domains', { domain: 'login.small-one.test' })).status, 201);
    assertApiError(await t.api('POST', '/tenants/small/domains', { domain: 'login.small-two.test' }), 403, 'quota_exceeded', /custom_domains quota is 1/);
    await connectPlain('small');
    await connectPlain('small');
    const second = await t.api('PUT', '/tenants/small/federation/other', { provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'x', client_secret: 'y' });
    assertApiError(second, 403, 'quota_exceeded', /federation_connections quota is 1/);
    const usage = (await t.api('GET', '/tenants/small/quotas')).body.usage;
    assert.deepEqual(usage, { users: 0, clients: 1, custom_domains: 1, federation_connections: 1 });
    // Globex, with no quotas, adds what small cannot.
    assert.equal((await t.api('POST', '/tenants/globex/clients', client)).status, 201);
    assert.equal((await t.api('POST', '/tenants/globex/domains', { domain: 'login.globex-two.test' })).status, 201);
  });

  it('management_requests_per_minute: calls beyond it are a 429 quota_exceeded; other tenants and the quota route go on', async () => {
    await newTenant('chatty');
    await putQuotas('chatty', { management_requests_per_minute: 3 });
    for (let i = 0; i < 3; i++) assert.equal((await t.api('GET', '/tenants/chatty/users')).status, 200);
    const refused = await t.api('GET', '/tenants/chatty/clients');
    assertApiError(refused, 429, 'quota_exceeded', /management_requests_per_minute quota is 3/);
    assert.ok(Number(refused.headers.get('retry-after')) > 0, 'Retry-After');
    assert.equal((await t.api('GET', '/tenants/globex/users')).status, 200, 'another tenant is not limited');
    assert.equal((await t.api('GET', '/tenants/chatty/quotas')).status, 200, 'the platform can still read and raise the quota');
    await putQuotas('chatty', { management_requests_per_minute: null });
    assert.equal((await t.api('GET', '/tenants/chatty/users')).status, 200, 'null is unlimited');
  });
});

describe('/admin and /platform', () => {
  interface Session { browser: TestBrowser; csrf: string; origin: string }
  async function session(origin: string, credentials: { email: string; password: string }, path: string): Promise<Session> {
    const { browser, html, status } = await signInToConsole(origin, credentials, path);
    assert.equal(status, 200, html.slice(0, 300));
    return { browser, csrf: hiddenInput(html, 'csrf'), origin };
  }
  async function get(s: Session, path: string) {
    const res = await s.browser.request(`${s.origin}${path}`);
    return { status: res.status, html: await res.text() };
  }
  async function post(s: Session, path: string, form: Record<string, string> | URLSearchParams) {
    const body = new URLSearchParams(form);
    body.set('csrf', s.csrf);
    const res = await s.browser.request(`${s.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
    return { status: res.status, html: await res.text(), location: res.headers.get('location') };
  }

  it('/admin: roles are created, assigned and deleted there, usage shows against quotas, and a custom role opens no console', async () => {
    await newTenant('consoled');
    const ownerPassword = 'consoled-owner-password';
    await t.api('POST', '/tenants/consoled/users', { email: 'owner@consoled.test', password: ownerPassword, email_verified: true });
    const owner = await session(t.issuer('consoled'), { email: 'owner@consoled.test', password: ownerPassword }, '/admin');
    await putQuotas('consoled', { users: 2, clients: 7 });
    const overview = await get(owner, '/admin');
    assert.match(overview.html, /data-quota="users">1 of 2</);
    assert.match(overview.html, /data-quota="clients">0 of 7</);
    assert.match(overview.html, /data-quota="custom_domains">0 \(no limit\)</);

    assert.equal((await post(owner, '/admin/roles', { name: 'Admin ', description: 'x' })).status, 400);
    const made = await post(owner, '/admin/roles', { name: 'reviewer', description: 'Reviews things' });
    assert.equal(made.status, 303, made.html.slice(0, 300));
    assert.match((await get(owner, '/admin/roles')).html, /<code>reviewer<\/code>/);
    const created = await post(owner, '/admin/users', { email: 'rev@consoled.test', password: 'reviewer-password-long', roles: 'reviewer', email_verified: 'on' });
    assert.equal(created.status, 303, created.html.slice(0, 300));
    const id = /\/admin\/users\/([0-9a-f-]{36})/.exec(created.location!)![1]!;
    assert.deepEqual((await t.api('GET', `/tenants/consoled/users/${id}`)).body.roles, ['reviewer']);
    const unknown = await post(owner, `/admin/users/${id}/roles`, new URLSearchParams([['roles', 'member'], ['roles', 'ghost']]));
    assert.equal(unknown.status, 400);
    assert.match(unknown.html, /unknown role &#34;ghost&#34;|unknown role "ghost"/);
    const full = await post(owner, '/admin/users', { email: 'third@consoled.test', roles: 'member' });
    assert.equal(full.status, 403, 'the users quota (2) holds in /admin too');
    assert.match(full.html, /users quota is 2/);

    // A custom role is a label for applications: its holder gets no console.
    const reviewer = await signInToConsole(t.issuer('consoled'), { email: 'rev@consoled.test', password: 'reviewer-password-long' }, '/account');
    assert.equal((await reviewer.browser.request(`${t.issuer('consoled')}/admin`)).status, 403);

    assert.equal((await post(owner, '/admin/roles/reviewer/delete', {})).status, 409, 'held by a user');
    assert.equal((await post(owner, `/admin/users/${id}/roles`, { roles: 'member' })).status, 303);
    assert.equal((await post(owner, '/admin/roles/reviewer/delete', {})).status, 303);
    const ownerId = (await t.api('GET', '/tenants/consoled/users?search=owner')).body.users[0].id;
    for (const action of ['role.created', 'role.deleted']) assert.equal((await auditOf('consoled', action))[0]?.actor, ownerId, action);
  });

  it('/platform: a platform admin sees usage and sets quotas, with a 400 naming a bad field; each change audited as them', async () => {
    const root = await session(t.baseUrl, ROOT, '/platform');
    assert.match((await get(root, '/platform/tenants/acme')).html, /href="\/platform\/tenants\/acme\/quotas"/);
    const page = await get(root, '/platform/tenants/acme/quotas');
    assert.equal(page.status, 200);
    const users = (await t.api('GET', '/tenants/acme/quotas')).body.usage.users;
    assert.match(page.html, new RegExp(`data-usage="users">In use: ${users}<`));
    const bad = await post(root, '/platform/tenants/acme/quotas', { users: '-3', clients: '' });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /users: must not be negative/);
    const huge = await post(root, '/platform/tenants/acme/quotas', { users: '12.5' });
    assert.match(huge.html, /users: must be a whole number/);
    const saved = await post(root, '/platform/tenants/acme/quotas', { users: '5000', clients: '', management_requests_per_minute: '600' });
    assert.equal(saved.status, 303, saved.html.slice(0, 300));
    assert.deepEqual((await t.api('GET', '/tenants/acme/quotas')).body.quotas, { users: 5000, clients: null, custom_domains: null, federation_connections: null, management_requests_per_minute: 600 });
    assert.equal((await t.api('GET', '/tenants/globex/quotas')).body.quotas.users, null, 'globex untouched');
    const rootId = (await t.api('GET', '/tenants/_platforms/users?search=root%40')).body.users[0].id;
    assert.equal((await auditOf('acme', 'tenant.quotas_changed'))[0]?.actor, `platform:${rootId}`);
    await putQuotas('acme', {});
  });
});
