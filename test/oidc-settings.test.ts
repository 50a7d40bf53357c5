/**
 * The tenant's `oidc` settings that shape what its Provider offers: `enabled_grants` (a grant
 * switched off disappears from discovery and is refused at the token endpoint, the fast path
 * included, while clients keep their other grants) and the discovery metadata
 * (`service_documentation`, `op_policy_uri`, `op_tos_uri`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { httpFetch } from './support/http-client.ts';
import { PLATFORM_TENANT } from '../src/tenancy/slug.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

const discovery = async (f: TenantFixture) => (await (await httpFetch(`${f.issuer}/.well-known/openid-configuration`)).json()) as Record<string, any>;

async function token(f: TenantFixture, body: Record<string, string>, auth?: { id: string; secret: string }) {
  const res = await httpFetch(`${f.issuer}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth ? { authorization: `Basic ${Buffer.from(`${auth.id}:${auth.secret}`).toString('base64')}` } : {}) },
    body: new URLSearchParams(body).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}
const clientCredentials = (f: TenantFixture) => token(f, { grant_type: 'client_credentials' }, { id: f.m2mClientId, secret: f.m2mClientSecret });

async function signIn(f: TenantFixture) {
  const request = await authorizationRequest(f.issuer, f, { scope: 'openid offline_access', prompt: 'consent' });
  const { callback } = await signInThroughPages(request.url, f);
  return oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
}

const setOidc = async (slug: string, body: Record<string, unknown>) => {
  const res = await t.api('PUT', `/tenants/${slug}/config/oidc`, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res;
};

describe('oidc.enabled_grants', () => {
  it('without client_credentials: gone from discovery, refused at the token endpoint (fast path included); other tenants and grants unaffected', async () => {
    assert.equal((await clientCredentials(acme)).status, 200);
    await setOidc('acme', { enabled_grants: ['authorization_code', 'refresh_token'] });
    try {
      const meta = await discovery(acme);
      assert.deepEqual([...meta.grant_types_supported].sort(), ['authorization_code', 'refresh_token']);
      const refused = await clientCredentials(acme);
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error, 'unsupported_grant_type');
      assert.ok(refused.body.correlation_id);
      // client_secret_post too, which the fast path also answers.
      const posted = await token(acme, { grant_type: 'client_credentials', client_id: acme.m2mClientId, client_secret: acme.m2mClientSecret });
      assert.equal(posted.body.error, 'unsupported_grant_type');
      // The web client keeps its code and refresh grants.
      const tokens = await signIn(acme);
      assert.ok(tokens.access_token && tokens.refresh_token);
      // Another tenant still issues.
      assert.equal((await clientCredentials(globex)).status, 200);
      assert.ok((await discovery(globex)).grant_types_supported.includes('client_credentials'));
    } finally {
      await setOidc('acme', {});
    }
    assert.equal((await clientCredentials(acme)).status, 200, 'switched back on, it works again');
  });

  it('without refresh_token: gone from discovery with offline_access, no refresh token issued, an earlier one refused', async () => {
    const earlier = (await signIn(acme)).refresh_token!;
    assert.ok(earlier);
    await setOidc('acme', { enabled_grants: ['authorization_code', 'client_credentials'] });
    try {
      const meta = await discovery(acme);
      assert.deepEqual([...meta.grant_types_supported].sort(), ['authorization_code', 'client_credentials']);
      assert.ok(!meta.scopes_supported.includes('offline_access'));
      const tokens = await signIn(acme);
      assert.ok(tokens.access_token);
      assert.equal(tokens.refresh_token, undefined, 'offline_access asked for, no refresh token given');
      const refused = await token(acme, { grant_type: 'refresh_token', refresh_token: earlier }, { id: acme.clientId, secret: acme.clientSecret });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error, 'unsupported_grant_type');
      assert.equal((await clientCredentials(acme)).status, 200);
    } finally {
      await setOidc('acme', {});
    }
    const back = await token(acme, { grant_type: 'refresh_token', refresh_token: earlier }, { id: acme.clientId, secret: acme.clientSecret });
    assert.equal(back.status, 200, 'the refresh token was kept, not revoked, while the grant was off');
  });

  it('refuses what cannot be switched off or is not a grant, naming it', async () => {
    const noCode = await t.api('PUT', '/tenants/acme/config/oidc', { enabled_grants: ['client_credentials'] });
    assertApiError(noCode, 400, 'invalid_config');
    assert.match(noCode.body.error_description, /oidc\.enabled_grants.*authorization_code/);
    const unknown = await t.api('PUT', '/tenants/acme/config/oidc', { enabled_grants: ['authorization_code', 'password'] });
    assertApiError(unknown, 400, 'invalid_config');
    assert.match(unknown.body.error_description, /oidc\.enabled_grants/);
    const twice = await t.api('PUT', '/tenants/acme/config/oidc', { enabled_grants: ['authorization_code', 'authorization_code'] });
    assertApiError(twice, 400, 'invalid_config');
    // The platform tenant issues the management API's tokens with client_credentials.
    const platform = PLATFORM_TENANT;
    const lockout = await t.api('PUT', `/tenants/${platform}/config/oidc`, { enabled_grants: ['authorization_code', 'refresh_token'] });
    assertApiError(lockout, 400, 'invalid_config');
    assert.match(lockout.body.error_description, /client_credentials/);
  });
});

describe('discovery metadata', () => {
  it('service_documentation, op_policy_uri and op_tos_uri appear in the tenant\'s discovery, and go when cleared', async () => {
    const urls = { service_documentation: 'https://docs.acme.test/sso', op_policy_uri: 'https://acme.test/privacy', op_tos_uri: 'https://acme.test/terms' };
    await setOidc('acme', urls);
    try {
      const meta = await discovery(acme);
      for (const [key, value] of Object.entries(urls)) assert.equal(meta[key], value, key);
      const other = await discovery(globex);
      for (const key of Object.keys(urls)) assert.equal(other[key], undefined, `${key} not at another tenant`);
    } finally {
      await setOidc('acme', {});
    }
    const cleared = await discovery(acme);
    for (const key of Object.keys(urls)) assert.equal(cleared[key], undefined, `${key} cleared`);
  });

  it('refuses a URL that is not http(s), naming the field', async () => {
    const res = await t.api('PUT', '/tenants/acme/config/oidc', { op_tos_uri: 'javascript:alert(1)' });
    assertApiError(res, 400, 'invalid_config');
    assert.match(res.body.error_description, /oidc\.op_tos_uri/);
  });
});
