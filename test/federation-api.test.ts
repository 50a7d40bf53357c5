/**
 * The management API of a tenant's upstream identity providers:
 * /api/v1/tenants/:slug/federation[/:name[/test]].
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { freePort, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, type TenantFixture } from './support/fixtures.ts';

let t: TestAtrium;
let up: TestAtrium;
let acme: TenantFixture;
let upstreamClient: { id: string; secret: string };
const SECRET = 'the-upstream-client-secret-never-shown';

async function tenantToken(fixture: TenantFixture, scope: string): Promise<string> {
  const client = await t.api('POST', `/tenants/${fixture.slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const config = await discover(fixture.issuer, client.body.client_id, client.body.client_secret);
  return (await oidc.clientCredentialsGrant(config, { scope })).access_token;
}

const generic = (extra: Record<string, unknown> = {}) => ({ provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'downstream', client_secret: SECRET, ...extra });

before(async () => {
  t = await startTestAtrium();
  up = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
  await createTenantFixture(up, 'idp');
  const client = await up.api('POST', '/tenants/idp/clients', { client_name: 'downstream', redirect_uris: [`${t.issuer('acme')}/federation/callback`], grant_types: ['authorization_code'], response_types: ['code'] });
  assert.equal(client.status, 201);
  upstreamClient = { id: client.body.client_id, secret: client.body.client_secret };
});
after(async () => {
  await up?.stop();
  await t?.stop();
});

describe('connections', () => {
  it('creates, reads, lists, replaces and deletes a connection, auditing each change', async () => {
    const created = await t.api('PUT', '/tenants/acme/federation/corp', generic({ display_name: 'Corp SSO', allowed_domains: ['Corp.test'], home_realm_domains: ['corp.test'] }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.name, 'corp');
    assert.equal(created.body.display_name, 'Corp SSO');
    assert.equal(created.body.scopes, 'openid email profile', 'default scopes');
    assert.equal(created.body.enabled, true);
    assert.equal(created.body.link_by_verified_email, false);
    assert.deepEqual(created.body.allowed_domains, ['corp.test']);
    assert.equal(created.body.discovery_endpoint, 'https://idp.example.test/.well-known/openid-configuration');
    assert.equal(created.body.redirect_uri, `${t.issuer('acme')}/federation/callback`);
    assert.deepEqual(created.body.claims_mapping, { email: 'email', email_verified: 'email_verified', name: 'name' });

    const replaced = await t.api('PUT', '/tenants/acme/federation/corp', generic({ display_name: 'Corp', client_secret: '********', use_relay: true, enabled: false }));
    assert.equal(replaced.status, 200);
    assert.equal(replaced.body.has_client_secret, true, 'the mask keeps the stored secret');
    assert.equal(replaced.body.redirect_uri, `${t.baseUrl}/_ops/federation/callback`);
    assert.equal(replaced.body.enabled, false);

    const list = await t.api('GET', '/tenants/acme/federation');
    assert.equal(list.status, 200);
    assert.deepEqual(list.body.connections.map((c: { name: string }) => c.name), ['corp']);
    assert.deepEqual(list.body.redirect_uris, { tenant: `${t.issuer('acme')}/federation/callback`, relay: `${t.baseUrl}/_ops/federation/callback` });
    assert.equal((await t.api('GET', '/tenants/acme/federation/corp')).body.display_name, 'Corp');

    assert.equal((await t.api('DELETE', '/tenants/acme/federation/corp')).status, 204);
    assert.equal((await t.api('GET', '/tenants/acme/federation/corp')).status, 404);
    assert.equal((await t.api('DELETE', '/tenants/acme/federation/corp')).status, 404);

    const audit = await t.api('GET', '/tenants/acme/audit?limit=100');
    const actions = audit.body.events.filter((e: { target: string }) => e.target === 'corp').map((e: { action: string }) => e.action);
    assert.deepEqual(actions, ['federation.connection_deleted', 'federation.connection_updated', 'federation.connection_created']);
  });

  it('never returns the client secret, and can remove it', async () => {
    const responses = [await t.api('PUT', '/tenants/acme/federation/secretive', generic())];
    responses.push(await t.api('GET', '/tenants/acme/federation/secretive'));
    responses.push(await t.api('GET', '/tenants/acme/federation'));
    responses.push(await t.api('PUT', '/tenants/acme/federation/secretive', generic({ client_secret: `${SECRET}-rotated` })));
    responses.push(await t.api('GET', '/tenants/acme/audit?limit=100'));
    for (const res of responses) {
      assert.ok(res.status < 300, JSON.stringify(res.body));
      assert.doesNotMatch(JSON.stringify(res.body), /never-shown/);
    }
    assert.equal(responses[1]!.body.client_secret, '********');
    const removed = await t.api('PUT', '/tenants/acme/federation/secretive', generic({ client_secret: null, token_endpoint_auth_method: 'none' }));
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal(removed.body.client_secret, null);
    assert.equal(removed.body.has_client_secret, false);
    await t.api('DELETE', '/tenants/acme/federation/secretive');
  });

  it('fills the presets from a few inputs', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ provider: 'google' }, 'https://accounts.google.com/.well-known/openid-configuration'],
      [{ provider: 'entra_id', directory_id: '72F988BF-86F1-41AF-91AB-2D7CD011DB47' }, 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0/.well-known/openid-configuration'],
      [{ provider: 'okta', domain: 'acme.okta.com', authorization_server: 'default' }, 'https://acme.okta.com/oauth2/default/.well-known/openid-configuration'],
      [{ provider: 'auth0', domain: 'acme.eu.auth0.com' }, 'https://acme.eu.auth0.com/.well-known/openid-configuration'],
      [{ provider: 'keycloak', base_url: 'https://sso.acme.test/', realm: 'staff' }, 'https://sso.acme.test/realms/staff/.well-known/openid-configuration'],
      [{ provider: 'cognito', region: 'eu-west-1', user_pool_id: 'eu-west-1_AbC123' }, 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123/.well-known/openid-configuration'],
    ];
    for (const [input, discovery] of cases) {
      const res = await t.api('PUT', '/tenants/acme/federation/preset', { ...input, client_id: 'x', client_secret: 'y' });
      assert.ok(res.status < 300, `${JSON.stringify(input)}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.discovery_endpoint, discovery, JSON.stringify(input));
      for (const [k, v] of Object.entries(input)) if (k !== 'provider') assert.ok(res.body[k] !== undefined && String(v).toLowerCase().startsWith(String(res.body[k]).toLowerCase().replace(/\/$/, '')), `${k} echoed`);
    }
    assert.equal((await t.api('GET', '/tenants/acme/federation/preset')).body.display_name, 'Amazon Cognito');
    await t.api('DELETE', '/tenants/acme/federation/preset');
  });

  it('answers bad input with a 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ issuer: 'https://x.test', client_id: 'x' }, /provider/],
      [{ provider: 'saml', client_id: 'x' }, /provider: must be one of/],
      [generic({ client_id: undefined }), /client_id/],
      [generic({ issuer: 'not a url' }), /issuer: must be an absolute URL/],
      [{ provider: 'generic_oidc', client_id: 'x', client_secret: 'y' }, /discovery_endpoint: required for provider generic_oidc/],
      [generic({ authorization_endpoint: 'https://idp.example.test/auth' }), /token_endpoint: required with explicit endpoints/],
      [{ provider: 'google', domain: 'x.test', client_id: 'x', client_secret: 'y' }, /domain: not allowed for provider google/],
      [{ provider: 'google', issuer: 'https://evil.test', client_id: 'x', client_secret: 'y' }, /issuer: not allowed for provider google/],
      [{ provider: 'entra_id', client_id: 'x', client_secret: 'y' }, /directory_id: required for provider entra_id/],
      [{ provider: 'entra_id', directory_id: 'common', client_id: 'x', client_secret: 'y' }, /directory_id: must be the directory/],
      [{ provider: 'cognito', region: 'eu-west-1', user_pool_id: 'us-east-1_Abc', client_id: 'x', client_secret: 'y' }, /user_pool_id: must belong to region eu-west-1/],
      [{ provider: 'keycloak', base_url: 'https://sso.test', client_id: 'x', client_secret: 'y' }, /realm: required/],
      [generic({ scopes: 'email profile' }), /scopes: must include openid/],
      [generic({ allowed_domains: ['not a domain'] }), /allowed_domains\.0: must be a domain name/],
      [generic({ allowed_domains: ['corp.test'], home_realm_domains: ['other.test'] }), /home_realm_domains\.0: other\.test is not in allowed_domains/],
      [generic({ client_secret: undefined }), /client_secret: required with token_endpoint_auth_method client_secret_basic/],
      [generic({ enabled: 'yes' }), /enabled/],
      [generic({ unknown_field: 1 }), /unknown_field/],
      [generic({ claims_mapping: { email: 'mail', phone: 'x' } }), /claims_mapping.*phone/],
      ['not json', /JSON/],
    ];
    for (const [body, field] of cases) {
      const res = await t.api('PUT', '/tenants/acme/federation/bad', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error_description, field, JSON.stringify(body));
      assert.ok(res.body.correlation_id);
    }
    const badName = await t.api('PUT', '/tenants/acme/federation/Bad%20Name', generic());
    assert.equal(badName.status, 400);
    assert.match(badName.body.error_description, /^name:/);
    assert.equal((await t.api('GET', '/tenants/acme/federation/bad')).status, 404, 'nothing was stored');
  });

  it('refuses http upstreams outside development', async () => {
    const staging = await startTestAtrium({ ATRIUM_ENV: 'staging' });
    try {
      await createTenantFixture(staging, 'acme');
      const res = await staging.api('PUT', '/tenants/acme/federation/corp', generic({ issuer: 'http://idp.example.test' }));
      assert.equal(res.status, 400);
      assert.match(res.body.error_description, /issuer: must be an https URL/);
    } finally {
      await staging.stop();
    }
  });

  it('gives one email domain to one home realm', async () => {
    assert.equal((await t.api('PUT', '/tenants/acme/federation/one', generic({ home_realm_domains: ['corp.test'] }))).status, 201);
    const clash = await t.api('PUT', '/tenants/acme/federation/two', generic({ home_realm_domains: ['corp.test'] }));
    assert.equal(clash.status, 409);
    assert.match(clash.body.error_description, /corp\.test already belongs to the connection "one"/);
    // Another tenant may claim it for itself.
    assert.equal((await t.api('PUT', '/tenants/globex/federation/two', generic({ home_realm_domains: ['corp.test'] }))).status, 201);
    await t.api('DELETE', '/tenants/acme/federation/one');
    await t.api('DELETE', '/tenants/globex/federation/two');
  });
});

describe('access', () => {
  it('needs the read or write scope', async () => {
    const readOnly = await t.platformToken('atrium:cross-tenant:read');
    const neither = await t.platformToken('atrium:tenants:read');
    assert.equal((await t.api('GET', '/tenants/acme/federation', undefined, readOnly)).status, 200);
    for (const [method, path, body] of [
      ['PUT', '/tenants/acme/federation/x', generic()],
      ['DELETE', '/tenants/acme/federation/x', undefined],
      ['POST', '/tenants/acme/federation/x/test', undefined],
    ] as const) {
      const res = await t.api(method, path, body, readOnly);
      assert.equal(res.status, 403, `${method} ${path}`);
      assert.equal(res.body.error, 'insufficient_scope');
    }
    assert.equal((await t.api('GET', '/tenants/acme/federation', undefined, neither)).status, 403);
    assert.equal((await t.api('GET', '/tenants/acme/federation/x', undefined, neither)).status, 403);
  });

  it("lets a tenant manage its own connections and never another tenant's", async () => {
    const own = await tenantToken(acme, 'atrium:tenant:read atrium:tenant:write');
    const ownRead = await tenantToken(acme, 'atrium:tenant:read');
    assert.equal((await t.api('PUT', '/tenants/acme/federation/mine', generic(), own)).status, 201);
    assert.equal((await t.api('GET', '/tenants/acme/federation/mine', undefined, ownRead)).status, 200);
    assert.equal((await t.api('PUT', '/tenants/acme/federation/mine', generic(), ownRead)).status, 403);
    assert.equal((await t.api('PUT', '/tenants/globex/federation/theirs', generic({ home_realm_domains: [] }))).status, 201);
    for (const [method, path] of [
      ['GET', '/tenants/globex/federation'],
      ['GET', '/tenants/globex/federation/theirs'],
      ['PUT', '/tenants/globex/federation/theirs'],
      ['DELETE', '/tenants/globex/federation/theirs'],
      ['POST', '/tenants/globex/federation/theirs/test'],
    ] as const) {
      const res = await t.api(method, path, method === 'PUT' ? generic() : undefined, own);
      assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
    }
    // Through its own tenant's path, another tenant's connection does not exist either (row-level security).
    assert.equal((await t.api('GET', '/tenants/acme/federation/theirs', undefined, own)).status, 404);
    assert.equal((await t.api('DELETE', '/tenants/acme/federation/theirs', undefined, own)).status, 404);
    assert.equal((await t.api('POST', '/tenants/acme/federation/theirs/test', undefined, own)).status, 404);
    const ownList = await t.api('GET', '/tenants/acme/federation', undefined, own);
    const ownNames = ownList.body.connections.map((c: { name: string }) => c.name);
    assert.ok(ownNames.includes('mine') && !ownNames.includes('theirs'), JSON.stringify(ownNames));
    assert.equal((await t.api('GET', '/tenants/globex/federation/theirs')).status, 200, 'still there');
    await t.api('DELETE', '/tenants/acme/federation/mine');
    await t.api('DELETE', '/tenants/globex/federation/theirs');
  });

  it('answers a name that could never be a connection with a 404 (400 for PUT), never a 500', async () => {
    for (const name of ['a'.repeat(200), 'Upper', '-dash', '%E2%80%AE', 'x%00y']) {
      for (const [method, path] of [
        ['GET', `/tenants/acme/federation/${name}`],
        ['DELETE', `/tenants/acme/federation/${name}`],
        ['POST', `/tenants/acme/federation/${name}/test`],
      ] as const) {
        const res = await t.api(method, path);
        assert.equal(res.status, 404, `${method} ${path}: ${JSON.stringify(res.body)}`);
      }
      const put = await t.api('PUT', `/tenants/acme/federation/${name}`, generic());
      assert.ok([400, 404].includes(put.status), `PUT ${name}: ${put.status} ${JSON.stringify(put.body)}`);
    }
  });
});

describe('connection test', () => {
  it('reports discovery, JWKS and credentials against a real upstream', async () => {
    const connection = { provider: 'generic_oidc', issuer: up.issuer('idp'), client_id: upstreamClient.id, client_secret: upstreamClient.secret };
    assert.equal((await t.api('PUT', '/tenants/acme/federation/idp', connection)).status, 201);
    const ok = await t.api('POST', '/tenants/acme/federation/idp/test');
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.ok, true, JSON.stringify(ok.body));
    assert.deepEqual(ok.body.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok]), [['discovery', true], ['jwks', true], ['credentials', true]]);
    assert.match(ok.body.steps[0].detail, new RegExp(up.issuer('idp').replace(/\./g, '\\.')));

    assert.equal((await t.api('PUT', '/tenants/acme/federation/idp', { ...connection, client_secret: 'a-wrong-secret' })).status, 200);
    const wrong = await t.api('POST', '/tenants/acme/federation/idp/test');
    assert.equal(wrong.body.ok, false);
    const credentials = wrong.body.steps.find((s: { name: string }) => s.name === 'credentials');
    assert.equal(credentials.ok, false);
    assert.match(credentials.detail, /invalid_client/);
    assert.doesNotMatch(JSON.stringify(wrong.body), /a-wrong-secret/);

    assert.equal((await t.api('PUT', '/tenants/acme/federation/idp', { ...connection, issuer: `http://localhost:${await freePort()}` })).status, 200);
    const unreachable = await t.api('POST', '/tenants/acme/federation/idp/test');
    assert.equal(unreachable.body.ok, false);
    assert.deepEqual(unreachable.body.steps.map((s: { name: string; ok: boolean }) => [s.name, s.ok]), [['discovery', false]]);

    const audit = await t.api('GET', '/tenants/acme/audit?action=federation.connection_tested');
    assert.deepEqual(audit.body.events.map((e: { outcome: string }) => e.outcome), ['failure', 'failure', 'success']);
    assert.equal((await t.api('POST', '/tenants/acme/federation/nothing/test')).status, 404);
    await t.api('DELETE', '/tenants/acme/federation/idp');
  });
});
