/**
 * A tenant's own API access: a client of the tenant granted `atrium:tenant:read|write`
 * manages that tenant through /api/v1, and nothing else.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, type TenantFixture } from './support/fixtures.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let readWrite: string;
let readOnly: string;

async function tenantToken(fixture: TenantFixture, registered: string, asked: string): Promise<string> {
  const client = await t.api('POST', `/tenants/${fixture.slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: registered });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const config = await discover(fixture.issuer, client.body.client_id, client.body.client_secret);
  return (await oidc.clientCredentialsGrant(config, { scope: asked })).access_token;
}

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  readWrite = await tenantToken(acme, 'atrium:tenant:read atrium:tenant:write', 'atrium:tenant:read atrium:tenant:write');
  readOnly = await tenantToken(acme, 'atrium:tenant:read', 'atrium:tenant:read');
});
after(() => t?.stop());

it('manages its own tenant: read, create users and clients, rename', async () => {
  assert.equal((await t.api('GET', '/tenants/acme', undefined, readWrite)).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme/users', undefined, readWrite)).status, 200);
  assert.equal((await t.api('POST', '/tenants/acme/users', { email: 'new@acme.test', password: 'a-long-password-1' }, readWrite)).status, 201);
  assert.equal((await t.api('GET', '/tenants/acme/keys', undefined, readWrite)).status, 200);
  const renamed = await t.api('PATCH', '/tenants/acme', { name: 'Acme by itself' }, readWrite);
  assert.equal(renamed.status, 200);
  assert.equal(renamed.body.name, 'Acme by itself');
});

it('never reaches another tenant: 404, whether or not it exists', async () => {
  for (const path of ['/tenants/globex', '/tenants/globex/users', `/tenants/globex/users/${globex.userId}`, '/tenants/globex/clients', '/tenants/nobody/users']) {
    const res = await t.api('GET', path, undefined, readWrite);
    assert.equal(res.status, 404, `${path}: ${JSON.stringify(res.body)}`);
  }
  assert.equal((await t.api('POST', '/tenants/globex/users', { email: 'intruder@globex.test', password: 'a-long-password-1' }, readWrite)).status, 404);
  // Custom domains and their verification (issue 18): globex's domain is neither listed, verified nor removed by acme.
  const theirs = await t.api('POST', '/tenants/globex/domains', { domain: 'login.globex-corp.test' });
  assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
  for (const [method, path, body] of [
    ['GET', '/tenants/globex/domains', undefined],
    ['POST', '/tenants/globex/domains', { domain: 'login.acme-takes-globex.test' }],
    ['POST', '/tenants/globex/domains/login.globex-corp.test/verify', undefined],
    ['DELETE', '/tenants/globex/domains/login.globex-corp.test', undefined],
    ['POST', '/tenants/nobody/domains/login.globex-corp.test/verify', undefined],
  ] as const) {
    const res = await t.api(method, path, body, readWrite);
    assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
  }
  // Under its own tenant, acme cannot see or verify globex's domain either.
  assert.equal((await t.api('POST', '/tenants/acme/domains/login.globex-corp.test/verify', undefined, readWrite)).status, 404);
  const still = await t.api('GET', '/tenants/globex/domains');
  assert.deepEqual(still.body.domains.map((d: { domain: string; status: string }) => [d.domain, d.status]), [['login.globex-corp.test', 'pending']]);
});

it('has no platform powers: listing, creating, deleting or suspending tenants is refused', async () => {
  assert.equal((await t.api('GET', '/tenants', undefined, readWrite)).status, 403);
  assert.equal((await t.api('POST', '/tenants', { slug: 'made-by-acme', name: 'x' }, readWrite)).status, 403);
  assert.equal((await t.api('DELETE', '/tenants/acme', undefined, readWrite)).status, 403);
  assert.equal((await t.api('PATCH', '/tenants/acme', { status: 'suspended' }, readWrite)).status, 403);
  assert.equal((await t.api('GET', '/tenants/acme')).body.status, 'active');
});

it('gets only the scopes its client was registered with', async () => {
  await assert.rejects(tenantToken(acme, 'atrium:tenant:read', 'atrium:tenant:write'), (err: oidc.ResponseBodyError) => err.error === 'invalid_scope');
  assert.equal((await t.api('GET', '/tenants/acme/users', undefined, readOnly)).status, 200);
  const write = await t.api('POST', '/tenants/acme/users', { email: 'ro@acme.test', password: 'a-long-password-1' }, readOnly);
  assert.equal(write.status, 403);
  assert.match(write.body.error_description, /atrium:tenant:write/);
});

it('cannot be granted platform scopes, and stops working when its tenant is suspended', async () => {
  const client = await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'atrium:tenants:read' });
  assert.equal(client.status, 400, 'platform scopes are not even registrable on a tenant client');
  assert.equal((await t.api('PATCH', '/tenants/acme', { status: 'suspended' })).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme/users', undefined, readWrite)).status, 401);
  assert.equal((await t.api('PATCH', '/tenants/acme', { status: 'active' })).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme/users', undefined, readWrite)).status, 200);
});

// Issue 18 item 4: a token is only as good as its client is now, not as it was when the token was issued.
it("a token stops at once when its client loses the scope (403), may no longer use client credentials or is deleted (401)", async () => {
  const created = await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'atrium:tenant:read atrium:tenant:write' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const clientId = created.body.client_id as string;
  const config = await discover(acme.issuer, clientId, created.body.client_secret);
  const token = (await oidc.clientCredentialsGrant(config, { scope: 'atrium:tenant:read atrium:tenant:write' })).access_token;
  assert.equal((await t.api('PATCH', '/tenants/acme', { name: 'Acme live' }, token)).status, 200);

  assert.equal((await t.api('PATCH', `/tenants/acme/clients/${clientId}`, { scope: 'atrium:tenant:read' })).status, 200);
  const write = await t.api('PATCH', '/tenants/acme', { name: 'Acme after demotion' }, token);
  assert.equal(write.status, 403, JSON.stringify(write.body));
  assert.match(write.body.error_description, /atrium:tenant:write/);
  assert.equal((await t.api('GET', '/tenants/acme', undefined, token)).status, 200, 'the scope it still holds keeps working');

  assert.equal((await t.api('PATCH', `/tenants/acme/clients/${clientId}`, { grant_types: ['authorization_code'], response_types: ['code'], redirect_uris: ['https://app.acme.test/cb'] })).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme', undefined, token)).status, 401, 'a client that may no longer use client credentials is disabled for the API');
  assert.equal((await t.api('PATCH', `/tenants/acme/clients/${clientId}`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme', undefined, token)).status, 200);

  assert.equal((await t.api('DELETE', `/tenants/acme/clients/${clientId}`)).status, 204);
  const gone = await t.api('GET', '/tenants/acme', undefined, token);
  assert.equal(gone.status, 401, JSON.stringify(gone.body));
  assert.equal(gone.body.error, 'invalid_token');
  assert.equal((await t.api('GET', '/tenants/acme')).body.name, 'Acme live', 'nothing was written after the demotion');
});
