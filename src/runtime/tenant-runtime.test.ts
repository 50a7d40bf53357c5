import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../config/env.ts';
import { SecretBox } from '../core/secret-box.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { TenantRuntimes } from './tenant-runtime.ts';
import { BUILT_IN_POLICY } from '../config/platform-policy.ts';

const config = loadConfig({ ATRIUM_ENV: 'development', PUBLIC_URL: 'https://idp.example.test' });
const box = new SecretBox(randomBytes(32).toString('base64'));
const record = (version: number, config: Record<string, unknown> = {}): Tenant => ({ id: '0b6f8f52-8c1b-4b7a-9d39-4c1f7a1f0001', slug: 'acme', name: 'Acme', status: 'active', config, version, policy: BUILT_IN_POLICY, domains: [], primaryDomain: undefined, createdAt: new Date(), updatedAt: new Date() });

describe('TenantRuntimes', () => {
  it('builds one runtime per tenant record, and a new one for the next version', async () => {
    const providersAsked: string[] = [];
    const runtimes = new TenantRuntimes({ config, box, providerFor: async (t) => (providersAsked.push(`${t.slug}@${t.version}`), { tenant: t } as unknown as ProviderRuntime) });
    const v1 = record(1);
    assert.equal(runtimes.for(v1), runtimes.for(v1), 'the same record, the same runtime');
    assert.equal(runtimes.for(v1).mfa.required, 'off');
    const v2 = record(2, { security: { mfa: { required: 'all' } }, oidc: { access_token_ttl: 120 } });
    assert.notEqual(runtimes.for(v2), runtimes.for(v1));
    assert.equal(runtimes.for(v2).mfa.required, 'all');
    assert.equal(runtimes.for(v2).tokens.accessToken, 120);
    await runtimes.for(v2).provider();
    assert.deepEqual(providersAsked, ['acme@2'], 'the Provider comes from the pool, for the record asked');
  });

  it('derives issuer, cookie rule and keys from the record', () => {
    const runtime = new TenantRuntimes({ config, box, providerFor: async () => assert.fail('no Provider needed') }).for(record(1));
    assert.equal(runtime.issuer, 'https://acme.idp.example.test');
    assert.equal(runtime.cookies.name('atrium.acme.forms'), '__Host-atrium.acme.forms', 'an https issuer: prefixed cookies');
    assert.deepEqual(runtime.keys('csrf'), box.deriveKeys('csrf', runtime.tenant.id));
    assert.notDeepEqual(runtime.keys('csrf'), runtime.keys('account-forms-csrf'), 'one key per purpose');
  });

  it('hands out shared policy and configuration frozen, so no caller can change them for the next request', () => {
    const runtime = new TenantRuntimes({ config, box, providerFor: async () => assert.fail('no Provider needed') }).for(record(1, { security: { lockout: { max_attempts: 7 } } }));
    assert.equal(runtime.section('security'), runtime.section('security'), 'merged once');
    assert.throws(() => {
      (runtime.section('security').lockout as Record<string, unknown>).max_attempts = 1000;
    }, TypeError);
    assert.throws(() => {
      (runtime.mfa as { required: string }).required = 'off';
    }, TypeError);
    assert.throws(() => {
      (runtime.rateLimits.login_per_ip as { limit: number }).limit = 1e9;
    }, TypeError);
  });
});
