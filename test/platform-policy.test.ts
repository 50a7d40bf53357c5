/**
 * The operator's policy above the tenants (issue 13, item 4): GET/PUT
 * /api/v1/platform/config/:section, its scopes, bad input, and its effect on every tenant at
 * once: a password length floor, token lifetime defaults and ceilings (through the real token
 * endpoint), the MFA floor in the merged view, tenant values kept and overridden at read time.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { ALL_PLATFORM_SCOPES, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import * as oidc from 'openid-client';
import { assertApiError } from './support/api-assertions.ts';
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

async function machineToken(fixture: TenantFixture): Promise<{ access_token: string; expires_in: number }> {
  const res = await httpFetch(`${fixture.issuer}/token`, {
    method: 'POST',
    headers: { accept: 'application/json', authorization: `Basic ${Buffer.from(`${fixture.m2mClientId}:${fixture.m2mClientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token: string; expires_in: number };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}
const lifetimeOf = (token: { access_token: string }) => {
  const claims = decodeJwt(token.access_token);
  return claims.exp! - claims.iat!;
};

describe('platform configuration API', () => {
  it('shows every bounded field with its built-in bounds', async () => {
    const res = await t.api('GET', '/platform/config/security');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.settings, { password_policy: { min_length: { floor: 8 } }, mfa: { required: { floor: 'off' } } });
    assert.equal(res.body.version, 0);
  });

  it('needs atrium:platform:read and atrium:platform:write', async () => {
    const without = (s: string) => ALL_PLATFORM_SCOPES.split(' ').filter((x) => x !== s).join(' ');
    const read = await httpFetch(`${t.baseUrl}/api/v1/platform/config/oidc`, { headers: { authorization: `Bearer ${await t.platformToken(without('atrium:platform:read'))}` } });
    assert.equal(read.status, 403);
    const write = await httpFetch(`${t.baseUrl}/api/v1/platform/config/oidc`, { method: 'PUT', headers: { authorization: `Bearer ${await t.platformToken(without('atrium:platform:write'))}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(write.status, 403);
  });

  it('refuses unknown sections and fields, wrong types, and a floor above the ceiling, naming them', async () => {
    assertApiError(await t.api('PUT', '/platform/config/branding', {}), 400, 'invalid_platform_config', /no platform configuration section "branding"/);
    assertApiError(await t.api('PUT', '/platform/config/security', { lockout: { floor: 1 } }), 400, 'invalid_platform_config', /security\.lockout: unknown field/);
    assertApiError(await t.api('PUT', '/platform/config/security', { mfa: { required: { ceiling: 'all' } } }), 400, 'invalid_platform_config', /security\.mfa\.required\.ceiling: unknown field/);
    assertApiError(await t.api('PUT', '/platform/config/security', { password_policy: { min_length: { floor: '12' } } }), 400, 'invalid_platform_config', /min_length\.floor: must be a whole number/);
    assertApiError(await t.api('PUT', '/platform/config/security', { password_policy: { min_length: { floor: 6 } } }), 400, 'invalid_platform_config', /between 8 and 128/);
    assertApiError(await t.api('PUT', '/platform/config/security', { mfa: { required: { floor: 'sometimes' } } }), 400, 'invalid_platform_config', /one of off, admins, all/);
    assertApiError(await t.api('PUT', '/platform/config/oidc', { key_rotation_days: { floor: 200, ceiling: 100 } }), 400, 'invalid_platform_config', /key_rotation_days\.floor: 200 is above the ceiling 100/);
    assertApiError(await t.api('PUT', '/platform/config/oidc', { access_token_ttl: { default: 7200, ceiling: 3600 } }), 400, 'invalid_platform_config', /access_token_ttl\.default: 7200 is above the ceiling 3600/);
    assert.equal((await t.api('GET', '/platform/config/oidc')).body.version, 0, 'nothing refused was stored');
  });

  it('a raised password floor applies at once to every tenant, keeping their stored values', async () => {
    assert.equal((await t.api('PUT', '/tenants/acme/config/security', { password_policy: { min_length: 10 } })).status, 200);
    const put = await t.api('PUT', '/platform/config/security', { password_policy: { min_length: { floor: 12 } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.ok(put.body.affected_tenants.includes('acme') && put.body.affected_tenants.includes('globex'));
    const config = await t.api('GET', '/tenants/acme/config');
    assert.equal(config.body.security.password_policy.min_length, 12, 'the effective value is the floor');
    const stored = await t.atrium.services.db.crossTenant('test', (q) => q.query<{ config: any }>("SELECT config FROM tenants WHERE slug = 'acme'"));
    assert.equal(stored.rows[0]!.config.security.password_policy.min_length, 10, 'the tenant value is kept');
    assertApiError(await t.api('POST', '/tenants/globex/users', { email: 'eleven@globex.test', password: 'qwzxplmkoij' }), 400, 'invalid_password', /at least 12/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { password_policy: { min_length: 11 } }), 400, 'invalid_config', /min_length: at least 12 \(platform floor\)/);
    assert.equal((await t.api('PUT', '/platform/config/security', {})).status, 200);
    assert.equal((await t.api('POST', '/tenants/globex/users', { email: 'eleven@globex.test', password: 'qwzxplmkoij' })).status, 201);
  });

  it('the MFA floor raises every tenant\'s mfa.required in force', async () => {
    assert.equal((await t.api('PUT', '/platform/config/security', { mfa: { required: { floor: 'admins' } } })).status, 200);
    assert.equal((await t.api('GET', '/tenants/globex/config')).body.security.mfa.required, 'admins');
    assertApiError(await t.api('PUT', '/tenants/globex/config/security', { mfa: { required: 'off' } }), 400, 'invalid_config', /at least "admins"/);
    assert.equal((await t.api('PUT', '/platform/config/security', {})).status, 200);
    assert.equal((await t.api('GET', '/tenants/globex/config')).body.security.mfa.required, 'off');
  });

  it('token lifetime default and ceiling reach the token endpoint at once', async () => {
    assert.equal(lifetimeOf(await machineToken(acme)), 3600);
    assert.equal((await t.api('PUT', '/platform/config/oidc', { access_token_ttl: { default: 600 } })).status, 200);
    assert.equal(lifetimeOf(await machineToken(acme)), 600, 'a tenant without an override takes the platform default');
    assert.equal((await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 1800 })).status, 200);
    assert.equal(lifetimeOf(await machineToken(acme)), 1800, 'its own value wins over the default');
    assert.equal((await t.api('PUT', '/platform/config/oidc', { access_token_ttl: { default: 600, ceiling: 900 } })).status, 200);
    const capped = await machineToken(acme);
    assert.equal(lifetimeOf(capped), 900, 'the ceiling caps the stored value');
    assert.equal(capped.expires_in, 900);
    assert.equal((await t.api('GET', '/tenants/acme/config')).body.oidc.access_token_ttl, 900);
    assert.equal((await t.api('PUT', '/platform/config/oidc', {})).status, 200);
    assert.equal(lifetimeOf(await machineToken(acme)), 1800);
  });

  it('ID and refresh token lifetime defaults and ceilings reach the tokens a sign-in gets', async () => {
    assert.equal((await t.api('PUT', '/tenants/acme/config/oidc', { id_token_ttl: 2000, refresh_token_ttl: 9000 })).status, 200);
    assert.equal((await t.api('PUT', '/platform/config/oidc', { id_token_ttl: { default: 700, ceiling: 900 }, refresh_token_ttl: { default: 5000, ceiling: 6000 } })).status, 200);
    /** An ID token's and a refresh token's lifetimes from a real sign-in at the tenant. */
    const lifetimes = async (f: TenantFixture) => {
      const auth = await authorizationRequest(f.issuer, f, { scope: 'openid offline_access', prompt: 'consent' });
      const tokens = await oidc.authorizationCodeGrant(auth.config, (await signInThroughPages(auth.url, f)).callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true });
      const id = decodeJwt(tokens.id_token!);
      const refresh = await oidc.tokenIntrospection(auth.config, tokens.refresh_token!);
      return { id: id.exp! - id.iat!, refresh: refresh.exp! - refresh.iat! };
    };
    assert.deepEqual(await lifetimes(globex), { id: 700, refresh: 5000 }, 'a tenant without its own values takes the platform defaults');
    assert.deepEqual(await lifetimes(acme), { id: 900, refresh: 6000 }, "the ceilings cap the tenant's own values");
    assert.equal((await t.api('PUT', '/platform/config/oidc', {})).status, 200);
    assert.deepEqual(await lifetimes(acme), { id: 2000, refresh: 9000 }, 'its own values again once the ceilings go');
    assert.equal((await t.api('PUT', '/tenants/acme/config/oidc', {})).status, 200);
  });

  it('key rotation default, floor and ceiling set when each tenant\'s signing keys rotate', async () => {
    const initech = await createTenantFixture(t, 'initech');
    assert.equal((await t.api('PUT', '/tenants/acme/config/oidc', { key_rotation_days: 7 })).status, 200);
    assert.equal((await t.api('PUT', '/tenants/globex/config/oidc', { key_rotation_days: 200 })).status, 200);
    /** Days between a tenant's current key's activation and its scheduled rotation (what the key lifecycle acts on). */
    const rotationDays = async (slug: string) => {
      const keys = (await t.api('GET', `/tenants/${slug}/keys`)).body.keys as { status: string; activated_at: string; rotates_at: string }[];
      const current = keys.find((k) => k.status === 'current')!;
      return (Date.parse(current.rotates_at) - Date.parse(current.activated_at)) / 86_400_000;
    };
    assert.deepEqual([await rotationDays('acme'), await rotationDays('globex'), await rotationDays(initech.slug)], [7, 200, 90]);
    assert.equal((await t.api('PUT', '/platform/config/oidc', { key_rotation_days: { default: 30, floor: 10, ceiling: 60 } })).status, 200);
    assert.equal(await rotationDays('acme'), 10, 'raised to the floor');
    assert.equal(await rotationDays('globex'), 60, 'lowered to the ceiling');
    assert.equal(await rotationDays(initech.slug), 30, 'a tenant without its own value takes the platform default');
    assert.equal((await t.api('PUT', '/platform/config/oidc', {})).status, 200);
    assert.deepEqual([await rotationDays('acme'), await rotationDays('globex'), await rotationDays(initech.slug)], [7, 200, 90], 'the stored values were kept');
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('PUT', `/tenants/${slug}/config/oidc`, {})).status, 200);
  });

  it('audits each change on the platform', async () => {
    const res = await t.api('PUT', '/platform/config/oidc', { id_token_ttl: { ceiling: 7200 } });
    assert.equal(res.status, 200);
    const events = await t.api('GET', '/tenants/_platforms/audit?action=platform.config_changed');
    assert.equal(events.status, 200, JSON.stringify(events.body));
    const list = (events.body.events ?? events.body.items ?? events.body) as any[];
    assert.ok(list.some((e) => e.action === 'platform.config_changed' && e.target === 'oidc'), JSON.stringify(events.body).slice(0, 400));
    await t.api('PUT', '/platform/config/oidc', {});
  });

  it('is out of reach of a tenant\'s own token', async () => {
    const token = await machineToken(acme);
    const res = await httpFetch(`${t.baseUrl}/api/v1/platform/config/security`, { headers: { authorization: `Bearer ${token.access_token}` } });
    assert.ok(res.status === 403 || res.status === 401, `status ${res.status}`);
  });
});
