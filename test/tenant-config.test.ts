/**
 * Management API: per-tenant configuration (GET /tenants/:slug/config, PUT .../config/:section).
 * Merged defaults, strict schemas, platform floors and ceilings, secrets sealed and masked,
 * and a change that reaches the running Provider without a restart.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import { ALL_PLATFORM_SCOPES, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { httpFetch } from './support/http-client.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { LIFETIME_CEILINGS, LIFETIME_DEFAULTS } from '../src/oidc/token-lifetimes.ts';
import { PASSWORD_MIN_LENGTH_FLOOR } from '../src/accounts/user-service.ts';
import { openTenantSecret } from '../src/tenancy/tenant-config.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

const SECTIONS = ['application', 'branding', 'features', 'integrations', 'notifications', 'oidc', 'security'];
const SMTP_PASSWORD = 'smtp-pass-Sup3rSecret-value';

async function rawConfig(slug: string): Promise<Record<string, any>> {
  const res = await t.atrium.services.db.crossTenant('test: raw tenant config', (q) => q.query<{ config: Record<string, any> }>('SELECT config FROM tenants WHERE slug = $1', [slug]));
  return res.rows[0]!.config;
}

async function machineToken(fixture: TenantFixture) {
  const res = await httpFetch(`${fixture.issuer}/token`, {
    method: 'POST',
    headers: {
      accept: 'application/json',
      authorization: `Basic ${Buffer.from(`${fixture.m2mClientId}:${fixture.m2mClientSecret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token: string; expires_in: number };
  assert.equal(res.status, 200, JSON.stringify(body));
  return body;
}

function lifetimeOf(token: { access_token: string; expires_in: number }): number {
  const claims = decodeJwt(token.access_token);
  return claims.exp! - claims.iat!;
}

describe('reading the configuration', () => {
  it('shows every section merged over the global defaults', async () => {
    const res = await t.api('GET', '/tenants/acme/config');
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(Object.keys(res.body).sort(), SECTIONS);
    assert.equal(res.body.oidc.access_token_ttl, LIFETIME_DEFAULTS.accessToken);
    assert.equal(res.body.oidc.refresh_token_ttl, LIFETIME_DEFAULTS.refreshToken);
    assert.equal(res.body.security.password_policy.min_length, PASSWORD_MIN_LENGTH_FLOOR);
    assert.equal(res.body.security.mfa.required, 'off');
    assert.equal(res.body.security.rate_limits.login_per_ip.limit, 20);
    assert.equal(typeof res.body.branding.company_name, 'string');
    assert.match(res.headers.get('cache-control') ?? '', /no-store/);
  });

  it('is 404 for an unknown tenant, and needs atrium:tenants:read', async () => {
    assertApiError(await t.api('GET', '/tenants/nope/config'), 404, 'not_found');
    const token = await t.platformToken('atrium:tenants:write');
    assertApiError(await t.api('GET', '/tenants/acme/config', undefined, token), 403, 'insufficient_scope', /atrium:tenants:read/);
  });
});

describe('replacing a section', () => {
  const happy: Record<string, Record<string, unknown>> = {
    application: { title: 'Acme Portal', description: 'Sign in to Acme', default_locale: 'en', available_locales: ['en', 'pt-BR'] },
    branding: { company_name: 'Acme Corp', logos: { light: 'https://cdn.acme.test/logo.svg' }, colors: { light: { primary: '#ff0000' } } },
    security: { password_policy: { min_length: 12 }, mfa: { required: 'admins' }, audit_retention_days: 90, rate_limits: { login_per_ip: { limit: 30, window_seconds: 60 } } },
    features: { enterprise_sso: false },
    oidc: { access_token_ttl: 600, id_token_ttl: 900, refresh_token_ttl: 86_400, key_rotation_days: 30 },
    integrations: { smtp: { host: 'smtp.acme.test', port: 587, user: 'mailer', from: 'no-reply@acme.test' }, website_url: 'https://acme.test' },
    notifications: { email: { enabled: true, from_name: 'Acme' }, security_alerts: { new_device: false } },
  };
  for (const [section, body] of Object.entries(happy)) {
    it(`PUT ${section}: 200 with the merged section, and GET shows it`, async () => {
      const res = await t.api('PUT', `/tenants/globex/config/${section}`, body);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      const read = await t.api('GET', '/tenants/globex/config');
      assert.deepEqual(read.body[section], res.body);
      // Overrides win, defaults fill the rest.
      const [field, value] = Object.entries(body)[0]!;
      if (typeof value !== 'object') assert.deepEqual(res.body[field], value);
      // acme's view is unaffected.
      const acmeView = await t.api('GET', '/tenants/acme/config');
      if (typeof value !== 'object') assert.notDeepEqual(acmeView.body[section][field], value);
      assert.equal((await t.api('PUT', `/tenants/globex/config/${section}`, {})).status, 200);
    });
  }

  it('merges nested overrides over the defaults, and an empty object clears them', async () => {
    const put = await t.api('PUT', '/tenants/globex/config/branding', { colors: { light: { primary: '#00ff00' } } });
    assert.equal(put.body.colors.light.primary, '#00ff00');
    assert.equal(put.body.colors.light.background, '#ffffff', 'the default of a sibling field stays');
    assert.equal(put.body.company_name, 'Atrium', 'a PUT replaces the section: company_name is no longer overridden');
    const cleared = await t.api('PUT', '/tenants/globex/config/branding', {});
    assert.equal(cleared.status, 200);
    assert.equal(cleared.body.colors.light.primary, '#2563eb');
    assert.equal((await rawConfig('globex')).branding, undefined);
  });

  it('keeps both of two changes to different sections made at the same time', async () => {
    for (let round = 0; round < 10; round++) {
      const [oidc, notifications] = await Promise.all([
        t.api('PUT', '/tenants/globex/config/oidc', { access_token_ttl: 600 + round }),
        t.api('PUT', '/tenants/globex/config/notifications', { email: { from_name: `Globex ${round}` } }),
      ]);
      assert.equal(oidc.status, 200, JSON.stringify(oidc.body));
      assert.equal(notifications.status, 200, JSON.stringify(notifications.body));
      const raw = (await rawConfig('globex')) as { oidc?: { access_token_ttl: number }; notifications?: { email: { from_name: string } } };
      assert.equal(raw.oidc?.access_token_ttl, 600 + round, `round ${round}: the oidc change was lost`);
      assert.equal(raw.notifications?.email.from_name, `Globex ${round}`, `round ${round}: the notifications change was lost`);
    }
    for (const section of ['oidc', 'notifications']) assert.equal((await t.api('PUT', `/tenants/globex/config/${section}`, {})).status, 200);
  });

  it('refuses unknown fields, naming them', async () => {
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 600, acess_token_tll: 5 }), 400, 'invalid_config', /oidc\.acess_token_tll: unknown field/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'h', pasword: 'x' } }), 400, 'invalid_config', /integrations\.smtp\.pasword: unknown field/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { rate_limits: { login_per_moon: { limit: 1, window_seconds: 1 } } }), 400, 'invalid_config', /security\.rate_limits\.login_per_moon/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { mfa: { required: 'sometimes' } }), 400, 'invalid_config', /security\.mfa\.required/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', [1]), 400, 'invalid_config');
  });

  it('refuses values past a platform floor or ceiling, naming the field and the bound', async () => {
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 86_401 }), 400, 'invalid_config', new RegExp(`oidc\\.access_token_ttl: at most ${LIFETIME_CEILINGS.accessToken}`));
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { refresh_token_ttl: LIFETIME_CEILINGS.refreshToken + 1 }), 400, 'invalid_config', new RegExp(`oidc\\.refresh_token_ttl: at most ${LIFETIME_CEILINGS.refreshToken}`));
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { key_rotation_days: 400 }), 400, 'invalid_config', /oidc\.key_rotation_days: at most 365/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { password_policy: { min_length: 6 } }), 400, 'invalid_config', /security\.password_policy\.min_length: at least 8/);
    assertApiError(await t.api('PUT', '/tenants/acme/config/security', { rate_limits: { login_per_ip: { limit: 100_000, window_seconds: 60 } } }), 400, 'invalid_config', /security\.rate_limits\.login_per_ip\.limit: must be at most 600/);
    const read = await t.api('GET', '/tenants/acme/config');
    assert.equal(read.body.oidc.access_token_ttl, LIFETIME_DEFAULTS.accessToken, 'a refused update changes nothing');
  });

  it('is 404 for an unknown section or tenant, and needs atrium:tenants:write', async () => {
    assertApiError(await t.api('PUT', '/tenants/acme/config/colours', {}), 404, 'not_found', /colours/);
    assertApiError(await t.api('PUT', '/tenants/nope/config/oidc', {}), 404, 'not_found');
    const token = await t.platformToken('atrium:tenants:read');
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 60 }, token), 403, 'insufficient_scope', /atrium:tenants:write/);
    const noScopes = await t.platformToken(ALL_PLATFORM_SCOPES.split(' ').filter((s) => s !== 'atrium:tenants:write').join(' '));
    assertApiError(await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 60 }, noScopes), 403);
  });

  it('records a tenant.config_changed audit event in that tenant only', async () => {
    await t.api('PUT', '/tenants/acme/config/application', { title: 'Audited' });
    const events = async (slug: string) => {
      const tenant = await t.atrium.services.tenantStore.findBySlug(slug);
      return runAsTenant(tenant!.id, () =>
        t.atrium.services.db.withTenant(async (q) => (await q.query<{ action: string; details: { section: string } }>("SELECT action, details FROM audit_events WHERE action = 'tenant.config_changed'")).rows),
      );
    };
    assert.ok((await events('acme')).some((e) => e.details.section === 'application'));
    assert.equal((await t.api('GET', '/tenants/globex/config')).body.application.title, 'Atrium', "globex's configuration is unaffected");
    assert.equal((await events('_platforms')).length, 0);
  });
});

describe('secrets', () => {
  it('seals the SMTP password at rest, masks it, and keeps it when omitted or masked', async () => {
    const put = await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'smtp.acme.test', port: 465, user: 'u', password: SMTP_PASSWORD, from: 'a@acme.test' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.smtp.password, '********');
    assert.ok(!JSON.stringify(put.body).includes(SMTP_PASSWORD));
    const read = await t.api('GET', '/tenants/acme/config');
    assert.equal(read.body.integrations.smtp.password, '********');
    assert.ok(!JSON.stringify(read.body).includes(SMTP_PASSWORD));

    const raw = await rawConfig('acme');
    assert.ok(!JSON.stringify(raw).includes(SMTP_PASSWORD), 'the plaintext is not in the database');
    assert.match(raw.integrations.smtp.password, /^v1\./);
    const tenant = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
    assert.equal(openTenantSecret(t.atrium.services.box, tenant, 'integrations.smtp.password'), SMTP_PASSWORD);
    // Bound to the tenant: the same sealed value does not open for another tenant.
    const other = (await t.atrium.services.tenantStore.findBySlug('globex'))!;
    assert.throws(() => openTenantSecret(t.atrium.services.box, { id: other.id, config: tenant.config }, 'integrations.smtp.password'));

    // Omitted, then sent as the mask: kept.
    await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'smtp2.acme.test' } });
    await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'smtp3.acme.test', password: '********' } });
    const kept = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
    assert.equal(kept.config.integrations && (kept.config.integrations as any).smtp.host, 'smtp3.acme.test');
    assert.equal(openTenantSecret(t.atrium.services.box, kept, 'integrations.smtp.password'), SMTP_PASSWORD);

    // null removes it; an empty section clears everything.
    const removed = await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'smtp3.acme.test', password: null } });
    assert.equal(removed.body.smtp.password, undefined);
    await t.api('PUT', '/tenants/acme/config/integrations', {});
    assert.equal((await rawConfig('acme')).integrations, undefined);
  });

  it('seals and masks the social sign-in and SMS secrets too, and never returns them', async () => {
    const put = await t.api('PUT', '/tenants/acme/config/features', { social: { github: { enabled: true, client_id: 'gh', client_secret: 'gh-secret-value-123' } } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.social.github.client_secret, '********');
    const sms = await t.api('PUT', '/tenants/acme/config/notifications', { sms: { enabled: true, provider: 'twilio', account_id: 'AC0123456789abcdef0123456789abcdef', auth_token: 'tw-secret-value-456', from: '+14155550123' } });
    assert.equal(sms.status, 200, JSON.stringify(sms.body));
    assert.equal(sms.body.sms.auth_token, '********');
    const raw = JSON.stringify(await rawConfig('acme'));
    assert.ok(!raw.includes('gh-secret-value-123') && !raw.includes('tw-secret-value-456'));
    const shown = JSON.stringify((await t.api('GET', '/tenants/acme/config')).body);
    assert.ok(!shown.includes('gh-secret-value-123') && !shown.includes('tw-secret-value-456'));
    await t.api('PUT', '/tenants/acme/config/features', {});
    await t.api('PUT', '/tenants/acme/config/notifications', {});
  });
});

describe('changes take effect on the next request', () => {
  it('a new access_token_ttl applies to the next client_credentials token, without restart; other tenants keep theirs', async () => {
    const before = await machineToken(acme);
    assert.equal(lifetimeOf(before), LIFETIME_DEFAULTS.accessToken);
    const put = await t.api('PUT', '/tenants/acme/config/oidc', { access_token_ttl: 120 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.access_token_ttl, 120);
    const afterPut = await machineToken(acme);
    assert.equal(lifetimeOf(afterPut), 120);
    assert.equal(afterPut.expires_in, 120);

    const other = await t.api('GET', '/tenants/globex/config');
    const globexTtl = other.body.oidc.access_token_ttl;
    assert.equal(lifetimeOf(await machineToken(globex)), globexTtl, 'globex keeps its own lifetime');
    assert.notEqual(globexTtl, 120);

    await t.api('PUT', '/tenants/acme/config/oidc', {});
    assert.equal(lifetimeOf(await machineToken(acme)), LIFETIME_DEFAULTS.accessToken);
  });

  it('a raised password min_length applies to the next user created', async () => {
    const tenPw = 'abcdefghij';
    const ok = await t.api('POST', '/tenants/acme/users', { email: 'ten@acme.test', password: tenPw });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal((await t.api('PUT', '/tenants/acme/config/security', { password_policy: { min_length: 14 } })).status, 200);
    assertApiError(await t.api('POST', '/tenants/acme/users', { email: 'ten2@acme.test', password: tenPw }), 400, 'invalid_password', /at least 14/);
    // globex is unaffected.
    assert.equal((await t.api('POST', '/tenants/globex/users', { email: 'ten@globex.test', password: tenPw })).status, 201);
    await t.api('PUT', '/tenants/acme/config/security', {});
  });
});
