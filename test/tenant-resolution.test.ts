/**
 * Which tenant answers a request: custom domain, tenant header, subdomain, the platform
 * host, the development fallback versus a 400 outside development, single-tenant mode,
 * and the _ops endpoints on every host.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { getOnPort } from './support/http-client.ts';

/** GET with an explicit Host header (undici keeps it; Node's fetch would drop it). */
const get = (t: TestAtrium, path: string, headers: Record<string, string>) => getOnPort(t.port, path, headers);
const issuerAt = async (t: TestAtrium, headers: Record<string, string>) => (await get(t, '/.well-known/openid-configuration', headers)).json?.issuer;

describe('multi-tenant, development', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium();
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
  });
  after(() => t?.stop());
  const host = (sub?: string) => ({ host: `${sub ? `${sub}.` : ''}localhost:${t.port}` });

  it('resolves a tenant by subdomain', async () => {
    assert.equal(await issuerAt(t, host('acme')), t.issuer('acme'));
    assert.equal(await issuerAt(t, host('globex')), t.issuer('globex'));
  });

  it('resolves a tenant by the tenant header; a subdomain naming another tenant is a conflict (issue 18)', async () => {
    assert.equal(await issuerAt(t, { ...host(), 'x-tenant-id': 'acme' }), t.issuer('acme'));
    assert.equal(await issuerAt(t, { ...host('acme'), 'x-tenant-id': 'acme' }), t.issuer('acme'));
    // Was: served as acme (the header first). Issue 18: never silently served as either.
    const conflict = await get(t, '/.well-known/openid-configuration', { ...host('globex'), 'x-tenant-id': 'acme' });
    assert.equal(conflict.status, 400);
    assert.equal(conflict.json.error, 'tenant_conflict');
  });

  it('tries the next strategy after a header naming no tenant; an invalid header is a 400 (issue 18)', async () => {
    assert.equal(await issuerAt(t, { ...host('globex'), 'x-tenant-id': 'nope' }), t.issuer('globex'));
    // Was: skipped. Issue 18: a present but invalid header is a 400.
    assert.equal((await get(t, '/.well-known/openid-configuration', { ...host('globex'), 'x-tenant-id': '../../etc' })).json.error, 'invalid_tenant');
  });

  it('serves the platform tenant on the bare PUBLIC_URL host, and never through a header or subdomain', async () => {
    assert.equal(await issuerAt(t, host()), t.baseUrl);
    // Was: the header skipped and acme served. Issue 18: `_platforms` is not a slug, so a 400.
    assert.equal((await get(t, '/.well-known/openid-configuration', { ...host('acme'), 'x-tenant-id': '_platforms' })).status, 400);
    assert.notEqual(await issuerAt(t, host('_platforms')), t.baseUrl);
  });

  it('falls back to the default tenant for an unknown host in development', async () => {
    assert.equal(await issuerAt(t, host('unknown-tenant')), t.issuer('default'));
  });

  it('resolves a custom domain by exact host, first, and uses it as the issuer', async () => {
    // Through the API: the change itself makes the registry and the pool forget (test/custom-domains.test.ts).
    assert.equal((await t.addVerifiedDomain('acme', `login.acme-corp.test:${t.port}`)).status, 201);
    const issuer = await issuerAt(t, { host: `login.acme-corp.test:${t.port}`, 'x-tenant-id': 'acme' });
    assert.equal(issuer, `http://login.acme-corp.test:${t.port}`);
    // Was: the domain won over a header naming globex. Issue 18: a conflict, a 400.
    assert.equal((await get(t, '/.well-known/openid-configuration', { host: `login.acme-corp.test:${t.port}`, 'x-tenant-id': 'globex' })).json.error, 'tenant_conflict');
  });

  it('answers health and readiness on every host, before tenant resolution', async () => {
    for (const headers of [host(), host('acme'), { host: 'anything.example:1' }]) {
      assert.equal((await get(t, '/healthz', headers)).status, 200);
      const ready = await get(t, '/readyz', headers);
      assert.equal(ready.status, 200);
      assert.equal(ready.json.checks.database, 'ok');
      assert.equal(ready.json.checks.migrations, 'ok');
    }
  });
});

describe('multi-tenant, staging, subdomain strategy only', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium({ ATRIUM_ENV: 'staging', MULTI_TENANCY_EXTRACTION_PRIORITY: 'subdomain' });
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(() => t?.stop());

  it('answers /metrics with a 404 on every host, before tenant resolution, when METRICS_TOKEN and METRICS_PORT are unset', async () => {
    for (const host of [`localhost:${t.port}`, `acme.localhost:${t.port}`, `nobody.localhost:${t.port}`]) {
      const res = await get(t, '/metrics', { host, accept: 'application/json', authorization: 'Bearer some-long-guessed-token' });
      assert.equal(res.status, 404, host);
      assert.equal(res.json.error, 'not_found');
      assert.equal(res.json.correlation_id, res.headers['x-correlation-id']);
    }
    assert.equal(t.atrium.metricsPort, undefined);
  });

  it('answers 400 with a JSON error for a host that names no tenant', async () => {
    const res = await get(t, '/.well-known/openid-configuration', { host: `nobody.localhost:${t.port}`, accept: 'application/json' });
    assert.equal(res.status, 400);
    assert.equal(res.json.error, 'unknown_tenant');
    assert.equal(res.json.correlation_id, res.headers['x-correlation-id']);
  });

  it('ignores the tenant header when the operator did not enable that strategy', async () => {
    assert.equal(await issuerAt(t, { host: `localhost:${t.port}`, 'x-tenant-id': 'acme' }), t.baseUrl);
  });
});

describe('single-tenant mode', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium({ MULTI_TENANCY_ENABLED: 'false' });
  });
  after(() => t?.stop());

  it('serves the default tenant at PUBLIC_URL on every host and ignores the tenant header', async () => {
    assert.equal(await issuerAt(t, { host: `localhost:${t.port}` }), t.baseUrl);
    assert.equal(await issuerAt(t, { host: `acme.localhost:${t.port}`, 'x-tenant-id': 'acme' }), t.baseUrl);
  });

  it('issues management API tokens from the default tenant', async () => {
    const res = await t.api('GET', '/tenants');
    assert.equal(res.status, 200);
    assert.ok(res.body.tenants.some((x: { slug: string }) => x.slug === 'default'));
  });
});

describe('unknown paths on a tenant host', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium();
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(() => t?.stop());

  it('answer 404 in the JSON error shape with the correlation id', async () => {
    for (const path of ['/nope', '/assets/../package.json', '/.well-known/openid-configuration/x']) {
      const res = await get(t, path, { host: `acme.localhost:${t.port}` });
      assert.equal(res.status, 404, path);
      assert.equal(res.json?.error, 'not_found', `${path}: ${res.text}`);
      assert.equal(res.json.correlation_id, res.headers['x-correlation-id']);
    }
  });
});
