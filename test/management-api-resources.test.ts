/**
 * Management API (/api/v1/tenants/:slug/{clients,users,keys}): one tenant's OIDC clients
 * (RFC 7591 metadata, secret shown once), users (never a password hash), and signing keys
 * (rotation keeps old keys published). Every lookup is confined to the tenant in the path.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, discover, REDIRECT_URI, SignInRefused, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { assertApiError, type ApiResponse } from './support/api-assertions.ts';
import { httpFetch } from './support/http-client.ts';


let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_DATE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const USER_KEYS = ['created_at', 'email', 'email_verified', 'id', 'last_login_at', 'name', 'profile', 'roles', 'status', 'updated_at'];
const KEY_KEYS = ['activated_at', 'alg', 'created_at', 'expires_at', 'kid', 'public_jwk', 'retired_at', 'rotates_at', 'status'];
const UNKNOWN_UUID = '00000000-0000-4000-8000-00000000beef';

/** Every property name anywhere in a JSON value. */
function allKeys(value: unknown, into: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) allKeys(v, into);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      into.push(k);
      allKeys(v, into);
    }
  }
  return into;
}

function assertNoSecret(body: unknown, secret: string, where: string): void {
  const text = JSON.stringify(body);
  assert.ok(!text.includes(secret), `${where}: the client secret must not appear`);
  assert.ok(!allKeys(body).includes('client_secret'), `${where}: no client_secret property`);
}

function assertNoPassword(body: unknown, where: string): void {
  const keys = allKeys(body);
  assert.ok(!keys.some((k) => /password|hash/i.test(k)), `${where}: no password or hash property (${keys.join(',')})`);
  assert.ok(!/\$argon2/.test(JSON.stringify(body)), `${where}: no argon2 hash`);
}

async function clientCredentials(issuer: string, clientId: string, secret: string) {
  const res = await httpFetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  return { status: res.status, body: (await res.json().catch(() => undefined)) as Record<string, any> | undefined };
}

/** Signs a user in through the pages with the tenant's web client; returns its tokens. */
async function codeFlow(fixture: TenantFixture, credentials: { email: string; password: string } = fixture) {
  const { config, url: authUrl, verifier, state, nonce } = await authorizationRequest(fixture.issuer, fixture);
  const { callback } = await signInThroughPages(authUrl, credentials);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { config, tokens };
}

async function fetchJwks(issuer: string): Promise<JSONWebKeySet> {
  const res = await httpFetch(`${issuer}/jwks`);
  assert.equal(res.status, 200);
  return (await res.json()) as JSONWebKeySet;
}

// Rule: POST clients registers RFC 7591 metadata and answers 201 with the client and its secret; the secret is never shown again.
describe('clients: registration and reading', () => {
  let created: ApiResponse;
  const metadata = {
    client_name: 'Acme billing',
    redirect_uris: ['https://billing.acme.test/cb'],
    post_logout_redirect_uris: ['https://billing.acme.test/bye'],
    grant_types: ['authorization_code', 'refresh_token', 'client_credentials'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  };

  before(async () => {
    created = await t.api('POST', '/tenants/acme/clients', metadata);
  });

  it('answers 201 with the metadata, a generated client_id, the secret, and no-store', () => {
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const body = created.body;
    for (const [k, v] of Object.entries(metadata)) assert.deepEqual(body[k], v, k);
    assert.match(body.client_id, /^[A-Za-z0-9._~-]{3,128}$/);
    assert.equal(typeof body.client_secret, 'string');
    assert.ok(body.client_secret.length >= 32, 'a strong secret');
    assert.equal(body.client_secret_expires_at, 0);
    assert.ok(Number.isInteger(body.client_id_issued_at));
    assert.ok(Math.abs(body.client_id_issued_at - Date.now() / 1000) < 120, 'client_id_issued_at is in seconds, now');
    assert.equal(body.has_client_secret, true);
    assert.match(body.updated_at, ISO_DATE);
    assert.equal(created.headers.get('cache-control'), 'no-store');
  });

  it('the returned secret works at the tenant token endpoint', async () => {
    const res = await clientCredentials(acme.issuer, created.body.client_id, created.body.client_secret);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(typeof res.body?.access_token, 'string');
    const wrong = await clientCredentials(acme.issuer, created.body.client_id, 'not-the-secret');
    assert.equal(wrong.status, 401);
  });

  it('GET returns the same client without the secret', async () => {
    const res = await t.api('GET', `/tenants/acme/clients/${created.body.client_id}`);
    assert.equal(res.status, 200);
    assertNoSecret(res.body, created.body.client_secret, 'GET client');
    const { client_secret: _s, client_secret_expires_at: _e, ...withoutSecret } = created.body;
    assert.deepEqual(res.body, withoutSecret);
  });

  it('the list never shows secrets, and shows has_client_secret', async () => {
    const res = await t.api('GET', '/tenants/acme/clients?limit=200');
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(res.body).sort(), ['clients', 'limit', 'next_cursor', 'offset', 'total']);
    assertNoSecret(res.body, created.body.client_secret, 'client list');
    assertNoSecret(res.body, acme.clientSecret, 'client list');
    assertNoSecret(res.body, acme.m2mClientSecret, 'client list');
    const listed = res.body.clients.find((c: { client_id: string }) => c.client_id === created.body.client_id);
    assert.deepEqual(listed, (await t.api('GET', `/tenants/acme/clients/${created.body.client_id}`)).body);
    const pub = res.body.clients.find((c: { client_id: string }) => c.client_id === acme.publicClientId);
    assert.equal(pub.has_client_secret, false);
  });

  it('registers a public client (token_endpoint_auth_method none) without any secret', async () => {
    const res = await t.api('POST', '/tenants/acme/clients', { client_name: 'Acme SPA', redirect_uris: ['https://spa.acme.test/cb'], token_endpoint_auth_method: 'none' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.client_secret, undefined);
    assert.equal(res.body.client_secret_expires_at, undefined);
    assert.equal(res.body.has_client_secret, false);
    assert.equal(res.body.token_endpoint_auth_method, 'none');
  });

  it('echoes the registered metadata with the server defaults filled in (RFC 7591 §3.2.1)', async () => {
    const res = await t.api('POST', '/tenants/acme/clients', { redirect_uris: ['https://defaults.acme.test/cb'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.grant_types, ['authorization_code']);
    assert.deepEqual(res.body.response_types, ['code']);
    assert.equal(res.body.token_endpoint_auth_method, 'client_secret_basic');
    const read = await t.api('GET', `/tenants/acme/clients/${res.body.client_id}`);
    assert.equal(read.body.token_endpoint_auth_method, 'client_secret_basic');
  });

  it('takes a client_id chosen by the caller; its namespace is the tenant', async () => {
    const mine = await t.api('POST', '/tenants/acme/clients', { client_id: 'shared-app', client_name: 'Acme shared', redirect_uris: ['https://shared.acme.test/cb'] });
    assert.equal(mine.status, 201, JSON.stringify(mine.body));
    assert.equal(mine.body.client_id, 'shared-app');
    assertApiError(await t.api('POST', '/tenants/acme/clients', { client_id: 'shared-app', redirect_uris: ['https://shared.acme.test/cb'] }), 409, 'conflict');
    const theirs = await t.api('POST', '/tenants/globex/clients', { client_id: 'shared-app', client_name: 'Globex shared', redirect_uris: ['https://shared.globex.test/cb'] });
    assert.equal(theirs.status, 201, 'another tenant may use the same client_id');
    assert.equal((await t.api('GET', '/tenants/acme/clients/shared-app')).body.client_name, 'Acme shared');
    assert.equal((await t.api('GET', '/tenants/globex/clients/shared-app')).body.client_name, 'Globex shared');
  });

  it('answers 404 for an unknown client and an unknown tenant', async () => {
    assertApiError(await t.api('GET', '/tenants/acme/clients/no-such-client'), 404, 'not_found');
    assertApiError(await t.api('GET', '/tenants/no-such-tenant/clients'), 404, 'not_found');
    assertApiError(await t.api('POST', '/tenants/no-such-tenant/clients', { redirect_uris: ['https://x.test/cb'] }), 404, 'not_found');
    assertApiError(await t.api('GET', `/tenants/no-such-tenant/clients/${acme.clientId}`), 404, 'not_found');
  });
});

// Rule: invalid client metadata is a 400 whose error_description names the offending field; nothing is registered.
describe('clients: invalid metadata', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['redirect_uris not URLs', { redirect_uris: ['not a url'] }, /redirect_uris/],
    ['redirect_uris not an array', { redirect_uris: 'https://rp.example.test/cb' }, /redirect_uris/],
    ['redirect_uris with a fragment', { redirect_uris: ['https://rp.example.test/cb#frag'] }, /redirect_uris/],
    ['unknown grant type', { redirect_uris: ['https://rp.example.test/cb'], grant_types: ['bogus'] }, /grant_types/],
    ['unsupported response type', { redirect_uris: ['https://rp.example.test/cb'], response_types: ['token'] }, /response_types/],
    ['unknown auth method', { redirect_uris: ['https://rp.example.test/cb'], token_endpoint_auth_method: 'bogus' }, /token_endpoint_auth_method/],
    ['post_logout_redirect_uris not URLs', { redirect_uris: ['https://rp.example.test/cb'], post_logout_redirect_uris: ['nope'] }, /post_logout_redirect_uris/],
    ['client_name not a string', { redirect_uris: ['https://rp.example.test/cb'], client_name: 42 }, /client_name/],
    ['a secret chosen by the caller', { redirect_uris: ['https://rp.example.test/cb'], client_secret: 'mine' }, /client_secret/],
    ['client_id_issued_at set by the caller', { redirect_uris: ['https://rp.example.test/cb'], client_id_issued_at: 1 }, /client_id_issued_at/],
    ['a malformed client_id', { client_id: 'a b', redirect_uris: ['https://rp.example.test/cb'] }, /client_id/],
    ['a too short client_id', { client_id: 'ab', redirect_uris: ['https://rp.example.test/cb'] }, /client_id/],
  ];
  for (const [what, body, field] of cases) {
    it(`refuses ${what}`, async () => {
      const before = (await t.api('GET', '/tenants/acme/clients')).body.total;
      assertApiError(await t.api('POST', '/tenants/acme/clients', { client_name: 'invalid probe', ...body }), 400, undefined, field);
      assert.equal((await t.api('GET', '/tenants/acme/clients')).body.total, before, 'nothing registered');
    });
  }

  it('refuses a body that is not a JSON object', async () => {
    for (const body of ['[]', '"x"', 'null']) assertApiError(await t.api('POST', '/tenants/acme/clients', body), 400);
  });

  it('does not store metadata it does not understand (RFC 7591 §2: ignore it, or refuse it)', async () => {
    const res = await t.api('POST', '/tenants/acme/clients', { redirect_uris: ['https://rp.example.test/cb'], x_internal_flag: 'pwned', is_admin: true });
    if (res.status === 400) return assertApiError(res, 400, undefined, /x_internal_flag|is_admin/);
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.x_internal_flag, undefined, 'unknown metadata is not echoed');
    assert.equal(res.body.is_admin, undefined, 'unknown metadata is not echoed');
    const read = await t.api('GET', `/tenants/acme/clients/${res.body.client_id}`);
    assert.equal(read.body.x_internal_flag, undefined, 'unknown metadata is not stored');
  });
});

// Rule: PATCH merges metadata (null removes), is validated like creation, shows a secret only when one is newly issued; DELETE removes the client and its tokens.
describe('clients: update and delete', () => {
  it('renames a client; the response and later reads carry no secret', async () => {
    const res = await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { client_name: 'Acme web (renamed)' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.client_name, 'Acme web (renamed)');
    assert.deepEqual(res.body.redirect_uris, [REDIRECT_URI], 'other metadata is kept');
    assert.equal(res.body.has_client_secret, true);
    assertNoSecret(res.body, acme.clientSecret, 'PATCH client');
    const read = await t.api('GET', `/tenants/acme/clients/${acme.clientId}`);
    assert.deepEqual(read.body, res.body);
    // The secret is unchanged: the web client still authenticates (and is then refused a grant it does not have).
    const right = await clientCredentials(acme.issuer, acme.clientId, acme.clientSecret);
    assert.equal(right.status, 400, JSON.stringify(right.body));
    assert.match(String(right.body?.error_description), /grant type/);
    const wrong = await clientCredentials(acme.issuer, acme.clientId, 'not-the-secret');
    assert.equal(wrong.body?.error, 'invalid_client');
  });

  it('resets a property patched to null to its default', async () => {
    const res = await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { post_logout_redirect_uris: null });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.post_logout_redirect_uris ?? [], []);
  });

  it('refuses invalid changes, naming the field, and keeps the client as it was', async () => {
    const before = (await t.api('GET', `/tenants/acme/clients/${acme.clientId}`)).body;
    assertApiError(await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { redirect_uris: ['not a url'] }), 400, undefined, /redirect_uris/);
    assertApiError(await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { grant_types: ['bogus'] }), 400, undefined, /grant_types/);
    assertApiError(await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { client_id: 'renamed-id' }), 400, undefined, /client_id/);
    assertApiError(await t.api('PATCH', `/tenants/acme/clients/${acme.clientId}`, { client_secret: 'mine' }), 400, undefined, /client_secret/);
    assert.deepEqual((await t.api('GET', `/tenants/acme/clients/${acme.clientId}`)).body, before);
  });

  it('applies a change to the running provider at once (grant_types without client_credentials)', async () => {
    const m2m = await t.api('POST', '/tenants/acme/clients', { client_name: 'soon restricted', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    assert.equal((await clientCredentials(acme.issuer, m2m.body.client_id, m2m.body.client_secret)).status, 200);
    const res = await t.api('PATCH', `/tenants/acme/clients/${m2m.body.client_id}`, { grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['https://rp.example.test/cb'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const refused = await clientCredentials(acme.issuer, m2m.body.client_id, m2m.body.client_secret);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.match(String(refused.body?.error_description), /grant type is not allowed/);
  });

  it('issues a secret once when a public client becomes confidential, and drops it when it becomes public again', async () => {
    const pub = await t.api('POST', '/tenants/acme/clients', { client_name: 'converts', token_endpoint_auth_method: 'none', redirect_uris: ['https://rp.example.test/cb'] });
    assert.equal(pub.body.has_client_secret, false);
    const id = pub.body.client_id;
    const confidential = await t.api('PATCH', `/tenants/acme/clients/${id}`, { token_endpoint_auth_method: 'client_secret_basic', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    assert.equal(confidential.status, 200, JSON.stringify(confidential.body));
    assert.equal(typeof confidential.body.client_secret, 'string');
    assert.equal(confidential.body.has_client_secret, true);
    assert.equal(confidential.headers.get('cache-control'), 'no-store');
    const secret = confidential.body.client_secret as string;
    assert.equal((await clientCredentials(acme.issuer, id, secret)).status, 200, 'the new secret works');
    assertNoSecret((await t.api('GET', `/tenants/acme/clients/${id}`)).body, secret, 'GET after conversion');
    const renamed = await t.api('PATCH', `/tenants/acme/clients/${id}`, { client_name: 'converted' });
    assertNoSecret(renamed.body, secret, 'a later PATCH');
    const back = await t.api('PATCH', `/tenants/acme/clients/${id}`, { token_endpoint_auth_method: 'none', grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['https://rp.example.test/cb'] });
    assert.equal(back.status, 200, JSON.stringify(back.body));
    assert.equal(back.body.has_client_secret, false);
    assert.equal(back.body.client_secret, undefined);
  });

  it('answers 404 when patching an unknown client or tenant', async () => {
    assertApiError(await t.api('PATCH', '/tenants/acme/clients/no-such-client', { client_name: 'x' }), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/no-such-tenant/clients/${acme.clientId}`, { client_name: 'x' }), 404, 'not_found');
  });

  it('deletes a client: 204, then 404, its credentials refused, the list total one less', async () => {
    const victim = await t.api('POST', '/tenants/acme/clients', { client_name: 'victim', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const id = victim.body.client_id as string;
    assert.equal((await clientCredentials(acme.issuer, id, victim.body.client_secret)).status, 200);
    const before = (await t.api('GET', '/tenants/acme/clients')).body.total;
    const res = await t.api('DELETE', `/tenants/acme/clients/${id}`);
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    assertApiError(await t.api('GET', `/tenants/acme/clients/${id}`), 404, 'not_found');
    assert.equal((await t.api('GET', '/tenants/acme/clients')).body.total, before - 1);
    const refused = await clientCredentials(acme.issuer, id, victim.body.client_secret);
    assert.equal(refused.status, 401, JSON.stringify(refused.body));
    assert.equal(refused.body?.error, 'invalid_client');
    assertApiError(await t.api('DELETE', `/tenants/acme/clients/${id}`), 404, 'not_found');
    assertApiError(await t.api('DELETE', `/tenants/no-such-tenant/clients/${acme.clientId}`), 404, 'not_found');
  });
});

// Rule: GET /clients pages with limit/offset and a total.
describe('clients: pagination', () => {
  it('walks every client of the tenant exactly once', async () => {
    assert.equal((await t.api('POST', '/tenants/globex/clients', { client_name: 'extra', redirect_uris: ['https://x.globex.test/cb'] })).status, 201);
    const all = await t.api('GET', '/tenants/globex/clients?limit=200');
    const total = all.body.total as number;
    assert.equal(all.body.clients.length, total);
    assert.ok(total >= 4);
    const seen: string[] = [];
    for (let offset = 0; offset < total; offset++) {
      const page = await t.api('GET', `/tenants/globex/clients?limit=1&offset=${offset}`);
      assert.equal(page.body.total, total);
      assert.equal(page.body.limit, 1);
      assert.equal(page.body.offset, offset);
      seen.push(page.body.clients[0].client_id);
    }
    assert.deepEqual(seen, all.body.clients.map((c: { client_id: string }) => c.client_id));
    assert.deepEqual((await t.api('GET', `/tenants/globex/clients?offset=${total}`)).body.clients, []);
    assertApiError(await t.api('GET', '/tenants/globex/clients?limit=0'), 400, undefined, /limit/);
    assertApiError(await t.api('GET', '/tenants/globex/clients?offset=-1'), 400, undefined, /offset/);
  });
});

// Rule: POST users takes exactly {email, password?, name?, email_verified?, roles?}; answers never contain a password or hash; email is unique per tenant (409).
describe('users: creation and reading', () => {
  let initech: { slug: string };

  before(async () => {
    initech = { slug: 'initech' };
    assert.equal((await t.api('POST', '/tenants', { slug: 'initech', name: 'Initech' })).status, 201);
  });

  it('creates a user: 201 with the user JSON and no password; the first user owns the tenant, the next are members', async () => {
    const first = await t.api('POST', `/tenants/${initech.slug}/users`, { email: 'bill@initech.test', password: 'tps-reports-forever', name: 'Bill Lumbergh', email_verified: true });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.deepEqual(Object.keys(first.body).sort(), USER_KEYS);
    assert.match(first.body.id, UUID);
    assert.equal(first.body.email, 'bill@initech.test');
    assert.equal(first.body.name, 'Bill Lumbergh');
    assert.equal(first.body.email_verified, true);
    assert.deepEqual(first.body.roles, ['owner']);
    assert.equal(first.body.status, 'active');
    assert.equal(first.body.last_login_at, null);
    assert.deepEqual(first.body.profile, {}, 'no profile claims until an upstream maps some');
    assert.match(first.body.created_at, ISO_DATE);
    assert.match(first.body.updated_at, ISO_DATE);
    assertNoPassword(first.body, 'POST user');

    const second = await t.api('POST', `/tenants/${initech.slug}/users`, { email: 'peter@initech.test' });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.deepEqual(second.body.roles, ['member']);
    assert.equal(second.body.email_verified, false);
    assert.equal(second.body.name, null);

    const admin = await t.api('POST', `/tenants/${initech.slug}/users`, { email: 'milton@initech.test', roles: ['admin'] });
    assert.deepEqual(admin.body.roles, ['admin']);
  });

  it('GET and the list show the same user, never a password or hash', async () => {
    const list = await t.api('GET', `/tenants/${initech.slug}/users`);
    assert.equal(list.status, 200);
    assert.deepEqual(Object.keys(list.body).sort(), ['limit', 'next_cursor', 'offset', 'total', 'users']);
    assert.equal(list.body.total, 3);
    assert.equal(list.body.limit, 50);
    assert.equal(list.body.offset, 0);
    assertNoPassword(list.body, 'user list');
    for (const user of list.body.users) {
      assert.deepEqual(Object.keys(user).sort(), USER_KEYS);
      const one = await t.api('GET', `/tenants/${initech.slug}/users/${user.id}`);
      assert.equal(one.status, 200);
      assert.deepEqual(one.body, user);
      assertNoPassword(one.body, 'GET user');
    }
    assert.deepEqual(list.body.users.map((u: { email: string }) => u.email), ['bill@initech.test', 'peter@initech.test', 'milton@initech.test'], 'in creation order');
  });

  it('answers 409 for an email already used in the tenant, whatever its case; another tenant may use it', async () => {
    assertApiError(await t.api('POST', `/tenants/${initech.slug}/users`, { email: 'bill@initech.test' }), 409, 'conflict');
    assertApiError(await t.api('POST', `/tenants/${initech.slug}/users`, { email: 'BILL@Initech.TEST' }), 409, 'conflict');
    assert.equal((await t.api('GET', `/tenants/${initech.slug}/users`)).body.total, 3);
    const elsewhere = await t.api('POST', '/tenants/globex/users', { email: 'bill@initech.test', name: 'Another Bill' });
    assert.equal(elsewhere.status, 201, JSON.stringify(elsewhere.body));
  });

  it('answers 409 (never 500) when the same email is created concurrently', async () => {
    const results = await Promise.all(Array.from({ length: 3 }, () => t.api('POST', `/tenants/${initech.slug}/users`, { email: 'samir@initech.test' })));
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409], JSON.stringify(results.map((r) => r.body)));
  });

  it('refuses invalid input with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /email/],
      [{ email: 'not-an-email' }, /email/],
      [{ email: 42 }, /email/],
      [{ email: `${'x'.repeat(320)}@initech.test` }, /email/],
      [{ email: 'short@initech.test', password: 'short' }, /password/],
      [{ email: 'same@initech.test', password: 'same@initech.test' }, /password/],
      [{ email: 'role@initech.test', roles: ['platform_admin'] }, /roles/],
      [{ email: 'role@initech.test', roles: ['superuser'] }, /roles/],
      [{ email: 'role@initech.test', roles: 'admin' }, /roles/],
      [{ email: 'flag@initech.test', email_verified: 'yes' }, /email_verified/],
      [{ email: 'long@initech.test', name: 'n'.repeat(201) }, /name/],
      [{ email: 'extra@initech.test', password_hash: '$argon2id$v=19$m=1,t=1,p=1$x$y' }, /password_hash/],
      [{ email: 'extra@initech.test', status: 'active' }, /status/],
      [{ email: 'extra@initech.test', id: UNKNOWN_UUID }, /\bid\b/],
    ];
    for (const [body, field] of cases) assertApiError(await t.api('POST', `/tenants/${initech.slug}/users`, body), 400, undefined, field);
    assert.equal((await t.api('GET', `/tenants/${initech.slug}/users`)).body.total, 4, 'nothing created');
  });

  it('answers 404 for an unknown user, a malformed id, and an unknown tenant', async () => {
    assertApiError(await t.api('GET', `/tenants/${initech.slug}/users/${UNKNOWN_UUID}`), 404, 'not_found');
    assertApiError(await t.api('GET', `/tenants/${initech.slug}/users/not-a-uuid`), 404, 'not_found');
    assertApiError(await t.api('GET', '/tenants/no-such-tenant/users'), 404, 'not_found');
    assertApiError(await t.api('POST', '/tenants/no-such-tenant/users', { email: 'x@y.test' }), 404, 'not_found');
  });

  it('lets the created user sign in with the given password, and records last_login_at', async () => {
    const res = await t.api('POST', '/tenants/acme/users', { email: 'signs-in@acme.test', password: 'a-long-enough-password' });
    assert.equal(res.status, 201);
    const { tokens } = await codeFlow(acme, { email: 'signs-in@acme.test', password: 'a-long-enough-password' });
    assert.equal(tokens.claims()!.sub, res.body.id);
    const read = await t.api('GET', `/tenants/acme/users/${res.body.id}`);
    assert.match(read.body.last_login_at, ISO_DATE);
  });
});

// Rule: GET /users pages with limit/offset and a total.
describe('users: pagination', () => {
  it('walks every user of the tenant exactly once in creation order', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'crowd', name: 'Crowd' })).status, 201);
    const emails = Array.from({ length: 7 }, (_, i) => `person${i}@crowd.test`);
    for (const email of emails) assert.equal((await t.api('POST', '/tenants/crowd/users', { email })).status, 201);
    const seen: string[] = [];
    for (let offset = 0; offset < 7; offset += 3) {
      const page = await t.api('GET', `/tenants/crowd/users?limit=3&offset=${offset}`);
      assert.equal(page.status, 200);
      assert.equal(page.body.total, 7);
      assert.equal(page.body.limit, 3);
      assert.equal(page.body.offset, offset);
      assert.equal(page.body.users.length, Math.min(3, 7 - offset));
      seen.push(...page.body.users.map((u: { email: string }) => u.email));
    }
    assert.deepEqual(seen, emails);
    assert.deepEqual((await t.api('GET', '/tenants/crowd/users?offset=7')).body.users, []);
    for (const q of ['limit=0', 'limit=201', 'limit=x']) assertApiError(await t.api('GET', `/tenants/crowd/users?${q}`), 400, undefined, /limit/);
    assertApiError(await t.api('GET', '/tenants/crowd/users?offset=-3'), 400, undefined, /offset/);
  });
});

// Rule: PATCH users changes email, password, name, email_verified, roles, status; a changed password and a disabled status take effect at sign-in; DELETE removes the user.
describe('users: update and delete', () => {
  it('keeps an active owner: the last one cannot be demoted, disabled or deleted (409) until another owner exists', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'solo', name: 'Solo' })).status, 201);
    const owner = await t.api('POST', '/tenants/solo/users', { email: 'owner@solo.test', password: 'a long solo passphrase' });
    assert.deepEqual(owner.body.roles, ['owner']);
    const path = `/tenants/solo/users/${owner.body.id as string}`;
    assertApiError(await t.api('PATCH', path, { roles: ['member'] }), 409, undefined, /last owner/);
    assertApiError(await t.api('PATCH', path, { status: 'disabled' }), 409, undefined, /last owner/);
    assertApiError(await t.api('DELETE', path), 409, undefined, /last owner/);
    assert.equal((await t.api('PATCH', path, { name: 'Still the owner' })).status, 200, 'other changes are fine');
    const second = await t.api('POST', '/tenants/solo/users', { email: 'second@solo.test', roles: ['owner'] });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    assert.equal((await t.api('PATCH', path, { roles: ['member'] })).status, 200);
    assertApiError(await t.api('DELETE', `/tenants/solo/users/${second.body.id as string}`), 409, undefined, /last owner/);
  });

  it('keeps an active owner when the last two are demoted at the same moment: one change lands, the other is a 409', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'duo', name: 'Duo' })).status, 201);
    const owners = await Promise.all(['one', 'two'].map(async (n) => (await t.api('POST', '/tenants/duo/users', { email: `${n}@duo.test`, roles: ['owner'] })).body.id as string));
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(owners.map((id) => t.api('PATCH', `/tenants/duo/users/${id}`, round === 1 ? { status: 'disabled' } : { roles: ['member'] })));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 409], JSON.stringify(results.map((r) => r.body)));
      const list = (await t.api('GET', '/tenants/duo/users')).body.users as { roles: string[]; status: string }[];
      assert.equal(list.filter((u) => u.roles.includes('owner') && u.status === 'active').length, 1, `round ${round}: one active owner is left`);
      for (const id of owners) assert.equal((await t.api('PATCH', `/tenants/duo/users/${id}`, { roles: ['owner'], status: 'active' })).status, 200);
    }
  });

  let user: { id: string; email: string };
  const oldPassword = 'the-original-password';
  const newPassword = 'a-brand-new-password';

  before(async () => {
    const res = await t.api('POST', '/tenants/acme/users', { email: 'changing@acme.test', password: oldPassword, name: 'Changing' });
    assert.equal(res.status, 201);
    user = res.body;
  });

  it('changes name, email_verified and roles; null clears the name; answers carry no password', async () => {
    const res = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { name: 'Changed', email_verified: true, roles: ['admin', 'member'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), USER_KEYS);
    assert.equal(res.body.name, 'Changed');
    assert.equal(res.body.email_verified, true);
    assert.deepEqual(res.body.roles, ['admin', 'member']);
    assert.equal(res.body.email, 'changing@acme.test', 'unmentioned fields are kept');
    assertNoPassword(res.body, 'PATCH user');
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${user.id}`)).body, res.body);
    const cleared = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { name: null });
    assert.equal(cleared.body.name, null);
    assert.equal(cleared.body.email_verified, true);
  });

  it('changes the email, but not to one another user of the tenant has (409)', async () => {
    const res = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: 'changed@acme.test' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.email, 'changed@acme.test');
    user.email = 'changed@acme.test';
    assertApiError(await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: acme.email }), 409, 'conflict');
    assertApiError(await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: acme.email.toUpperCase() }), 409, 'conflict');
    const own = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: 'CHANGED@acme.test' });
    assert.equal(own.status, 200, 'changing the case of its own email is not a conflict');
    await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: 'changed@acme.test' });
  });

  it('refuses invalid changes with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ email: 'nope' }, /email/],
      [{ password: 'short' }, /password/],
      [{ status: 'banned' }, /status/],
      [{ roles: ['platform_admin'] }, /roles/],
      [{ email_verified: 1 }, /email_verified/],
      [{ password_hash: 'x' }, /password_hash/],
      [{ id: UNKNOWN_UUID }, /\bid\b/],
      [{ last_login_at: null }, /last_login_at/],
    ];
    for (const [body, field] of cases) assertApiError(await t.api('PATCH', `/tenants/acme/users/${user.id}`, body), 400, undefined, field);
  });

  it('changes the password: the new one signs in, the old one no longer does', async () => {
    const res = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { password: newPassword });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assertNoPassword(res.body, 'PATCH password');
    await assert.rejects(codeFlow(acme, { email: user.email, password: oldPassword }), SignInRefused);
    const { tokens } = await codeFlow(acme, { email: user.email, password: newPassword });
    assert.equal(tokens.claims()!.sub, user.id);
  });

  it('disables a user, who then cannot sign in and whose access token stops working, and re-enables them', async () => {
    const { config, tokens } = await codeFlow(acme, { email: user.email, password: newPassword });
    const res = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { status: 'disabled' });
    assert.equal(res.status, 200);
    assert.equal(res.body.status, 'disabled');
    await assert.rejects(codeFlow(acme, { email: user.email, password: newPassword }), SignInRefused);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id), 'userinfo refuses a disabled user');
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${user.id}`, { status: 'active' })).body.status, 'active');
    await codeFlow(acme, { email: user.email, password: newPassword });
  });

  it('answers 404 when patching an unknown user or tenant', async () => {
    assertApiError(await t.api('PATCH', `/tenants/acme/users/${UNKNOWN_UUID}`, { name: 'x' }), 404, 'not_found');
    assertApiError(await t.api('PATCH', '/tenants/acme/users/not-a-uuid', { name: 'x' }), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/no-such-tenant/users/${user.id}`, { name: 'x' }), 404, 'not_found');
  });

  it('deletes a user: 204, then 404, one fewer in the list, their tokens dead, and they can no longer sign in', async () => {
    const { config, tokens } = await codeFlow(acme, { email: user.email, password: newPassword });
    const before = (await t.api('GET', '/tenants/acme/users')).body.total;
    const res = await t.api('DELETE', `/tenants/acme/users/${user.id}`);
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    assertApiError(await t.api('GET', `/tenants/acme/users/${user.id}`), 404, 'not_found');
    assert.equal((await t.api('GET', '/tenants/acme/users')).body.total, before - 1);
    await assert.rejects(codeFlow(acme, { email: user.email, password: newPassword }), SignInRefused);
    await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.id), 'userinfo refuses a deleted user');
    const introspected = await oidc.tokenIntrospection(config, tokens.access_token);
    assert.equal(introspected.active, false, "the deleted user's access token is inactive");
    assertApiError(await t.api('DELETE', `/tenants/acme/users/${user.id}`), 404, 'not_found');
    assertApiError(await t.api('DELETE', `/tenants/no-such-tenant/users/${acme.userId}`), 404, 'not_found');
  });
});

// Rule: a resource is only ever reached under its own tenant's path: another tenant's id is a 404 and is left untouched.
describe('tenant isolation of clients and users', () => {
  it("answers 404 for acme's user under globex, for GET, PATCH and DELETE, and leaves it intact", async () => {
    const before = (await t.api('GET', `/tenants/acme/users/${acme.userId}`)).body;
    assertApiError(await t.api('GET', `/tenants/globex/users/${acme.userId}`), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/globex/users/${acme.userId}`, { name: 'hijacked', roles: ['owner'] }), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/globex/users/${acme.userId}`, { password: 'hijacked-password' }), 404, 'not_found');
    assertApiError(await t.api('DELETE', `/tenants/globex/users/${acme.userId}`), 404, 'not_found');
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${acme.userId}`)).body, before);
    await codeFlow(acme); // the password is unchanged
  });

  it("answers 404 for acme's client under globex, for GET, PATCH and DELETE, and leaves it intact", async () => {
    const before = (await t.api('GET', `/tenants/acme/clients/${acme.m2mClientId}`)).body;
    assertApiError(await t.api('GET', `/tenants/globex/clients/${acme.m2mClientId}`), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/globex/clients/${acme.m2mClientId}`, { client_name: 'hijacked' }), 404, 'not_found');
    assertApiError(await t.api('PATCH', `/tenants/globex/clients/${acme.publicClientId}`, { token_endpoint_auth_method: 'client_secret_basic' }), 404, 'not_found');
    assertApiError(await t.api('DELETE', `/tenants/globex/clients/${acme.m2mClientId}`), 404, 'not_found');
    assert.deepEqual((await t.api('GET', `/tenants/acme/clients/${acme.m2mClientId}`)).body, before);
    assert.equal((await clientCredentials(acme.issuer, acme.m2mClientId, acme.m2mClientSecret)).status, 200);
  });

  it("lists only the tenant's own users and clients", async () => {
    const users = (await t.api('GET', '/tenants/globex/users?limit=200')).body.users as { id: string }[];
    assert.ok(!users.some((u) => u.id === acme.userId));
    const clients = (await t.api('GET', '/tenants/globex/clients?limit=200')).body.clients as { client_id: string }[];
    assert.ok(!clients.some((c) => [acme.clientId, acme.publicClientId, acme.m2mClientId].includes(c.client_id)));
  });

  it("a client of one tenant gets no token at another tenant's issuer", async () => {
    const res = await clientCredentials(globex.issuer, acme.m2mClientId, acme.m2mClientSecret);
    assert.equal(res.status, 401, JSON.stringify(res.body));
  });
});

// Rule: GET keys lists public parts only; POST keys/rotate makes a new pair current and keeps the old pair published (retired) so earlier tokens still verify; new tokens use the new kids.
describe('signing keys and rotation', () => {
  let initialKeys: { kid: string; alg: string }[];
  let oldIdToken: string;
  let oldAccessToken: string;
  let oldM2mToken: string;
  let globexKidsBefore: string[];

  before(async () => {
    const res = await t.api('GET', '/tenants/acme/keys');
    assert.equal(res.status, 200);
    initialKeys = res.body.keys;
    const { tokens } = await codeFlow(acme);
    oldIdToken = tokens.id_token!;
    oldAccessToken = tokens.access_token;
    oldM2mToken = (await clientCredentials(acme.issuer, acme.m2mClientId, acme.m2mClientSecret)).body!.access_token;
    globexKidsBefore = ((await t.api('GET', '/tenants/globex/keys')).body.keys as { kid: string }[]).map((k) => k.kid).sort();
  });

  it('lists the current RS256 and ES256 keys with public parts only', async () => {
    const res = await t.api('GET', '/tenants/acme/keys');
    assert.deepEqual(Object.keys(res.body), ['keys']);
    assert.equal(res.body.keys.length, 2);
    assert.deepEqual(res.body.keys.map((k: { alg: string }) => k.alg).sort(), ['ES256', 'RS256']);
    for (const key of res.body.keys) {
      assert.deepEqual(Object.keys(key).sort(), KEY_KEYS);
      assert.equal(key.status, 'current');
      assert.equal(key.public_jwk.kid, key.kid);
      assert.equal(key.public_jwk.alg, key.alg);
      for (const priv of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.equal(key.public_jwk[priv], undefined, `no private member ${priv}`);
      assert.match(key.created_at, ISO_DATE);
      assert.match(key.activated_at, ISO_DATE);
      assert.equal(key.retired_at, null);
    }
  });

  it('publishes exactly these keys at the issuer JWKS (the discovery jwks_uri)', async () => {
    const meta = (await (await httpFetch(`${acme.issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string };
    assert.equal(meta.jwks_uri, `${acme.issuer}/jwks`);
    const jwks = await fetchJwks(acme.issuer);
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), initialKeys.map((k) => k.kid).sort());
  });

  it('signs ID tokens with the RS256 key and JWT access tokens with the ES256 key', () => {
    const rs = initialKeys.find((k) => k.alg === 'RS256')!;
    const es = initialKeys.find((k) => k.alg === 'ES256')!;
    assert.equal(decodeProtectedHeader(oldIdToken).kid, rs.kid);
    assert.equal(decodeProtectedHeader(oldM2mToken).kid, es.kid);
  });

  it('rotates: the answer lists a new current pair and the old pair retired', async () => {
    const res = await t.api('POST', '/tenants/acme/keys/rotate');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const keys = res.body.keys as { kid: string; alg: string; status: string; retired_at: string | null }[];
    assert.equal(keys.length, 4);
    const current = keys.filter((k) => k.status === 'current');
    const retired = keys.filter((k) => k.status === 'retired');
    assert.deepEqual(current.map((k) => k.alg).sort(), ['ES256', 'RS256']);
    assert.deepEqual(retired.map((k) => k.kid).sort(), initialKeys.map((k) => k.kid).sort());
    for (const k of current) assert.ok(!initialKeys.some((i) => i.kid === k.kid), 'fresh kids');
    for (const k of retired) assert.match(k.retired_at!, ISO_DATE);
    assert.deepEqual(keys.slice(0, 2).map((k) => k.status), ['current', 'current'], 'current keys first');
    assert.deepEqual((await t.api('GET', '/tenants/acme/keys')).body, res.body);
  });

  it('publishes both the old and the new kids in the JWKS, without private parts', async () => {
    const jwks = await fetchJwks(acme.issuer);
    const keys = (await t.api('GET', '/tenants/acme/keys')).body.keys as { kid: string }[];
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), keys.map((k) => k.kid).sort());
    for (const old of initialKeys) assert.ok(jwks.keys.some((k) => k.kid === old.kid), `old kid ${old.kid} still published`);
    for (const k of jwks.keys) assert.equal((k as { d?: string }).d, undefined);
  });

  it('signs new ID tokens and JWT access tokens with the new kids, verifiable against the JWKS', async () => {
    const keys = (await t.api('GET', '/tenants/acme/keys')).body.keys as { kid: string; alg: string; status: string }[];
    const newRs = keys.find((k) => k.status === 'current' && k.alg === 'RS256')!;
    const newEs = keys.find((k) => k.status === 'current' && k.alg === 'ES256')!;
    const jwks = createLocalJWKSet(await fetchJwks(acme.issuer));
    const { tokens } = await codeFlow(acme);
    assert.equal(decodeProtectedHeader(tokens.id_token!).kid, newRs.kid);
    await jwtVerify(tokens.id_token!, jwks, { issuer: acme.issuer, audience: acme.clientId });
    const m2m = (await clientCredentials(acme.issuer, acme.m2mClientId, acme.m2mClientSecret)).body!.access_token as string;
    assert.equal(decodeProtectedHeader(m2m).kid, newEs.kid);
    await jwtVerify(m2m, jwks, { issuer: acme.issuer, typ: 'at+jwt' });
  });

  it('keeps tokens issued before the rotation valid: old ID and JWT access tokens verify, the old access token still reads userinfo', async () => {
    const jwks = createLocalJWKSet(await fetchJwks(acme.issuer));
    await jwtVerify(oldIdToken, jwks, { issuer: acme.issuer, audience: acme.clientId });
    await jwtVerify(oldM2mToken, jwks, { issuer: acme.issuer, typ: 'at+jwt' });
    const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    assert.equal((await oidc.fetchUserInfo(config, oldAccessToken, acme.userId)).sub, acme.userId);
  });

  it('rotating again retires the second pair too and keeps all earlier keys published', async () => {
    const res = await t.api('POST', '/tenants/acme/keys/rotate');
    assert.equal(res.status, 200);
    const keys = res.body.keys as { kid: string; status: string }[];
    assert.equal(keys.filter((k) => k.status === 'current').length, 2);
    assert.equal(keys.filter((k) => k.status === 'retired').length, 4);
    const published = (await fetchJwks(acme.issuer)).keys.map((k) => k.kid).sort();
    assert.deepEqual(published, keys.map((k) => k.kid).sort());
  });

  it("leaves other tenants' keys alone", async () => {
    const after = ((await t.api('GET', '/tenants/globex/keys')).body.keys as { kid: string }[]).map((k) => k.kid).sort();
    assert.deepEqual(after, globexKidsBefore);
    const published = (await fetchJwks(globex.issuer)).keys.map((k) => k.kid).sort();
    assert.deepEqual(published, globexKidsBefore);
    const acmeKids = ((await t.api('GET', '/tenants/acme/keys')).body.keys as { kid: string }[]).map((k) => k.kid);
    assert.ok(!published.some((k) => acmeKids.includes(k)), 'no key is shared between tenants');
  });

  it('answers 404 for an unknown tenant', async () => {
    assertApiError(await t.api('GET', '/tenants/no-such-tenant/keys'), 404, 'not_found');
    assertApiError(await t.api('POST', '/tenants/no-such-tenant/keys/rotate'), 404, 'not_found');
  });

  it('rotates the platform tenant: API tokens issued before keep working, new ones carry the new kid', async () => {
    const before = await t.platformToken();
    const oldKid = decodeProtectedHeader(before).kid;
    const res = await t.api('POST', '/tenants/_platforms/keys/rotate');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const newEs = (res.body.keys as { kid: string; alg: string; status: string }[]).find((k) => k.status === 'current' && k.alg === 'ES256')!;
    assert.equal((await t.api('GET', '/tenants', undefined, before)).status, 200, 'a token signed by the retired key still works');
    const fresh = await httpFetch(`${t.baseUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${BOOTSTRAP_CLIENT_ID}:${BOOTSTRAP_CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'atrium:tenants:read' }).toString(),
    });
    const token = ((await fresh.json()) as { access_token: string }).access_token;
    assert.equal(decodeProtectedHeader(token).kid, newEs.kid);
    assert.notEqual(newEs.kid, oldKid);
    assert.equal(decodeJwt(token).iss, t.baseUrl);
    assert.equal((await t.api('GET', '/tenants', undefined, token)).status, 200, 'a token signed by the new key works');
  });
});
