/**
 * The tenant header by the rules (issue 18, item 1): a present but invalid header is a 400;
 * a header naming no tenant is never served by the platform tenant or the development
 * fallback; a host and a header naming two different tenants are a 400 naming both; every
 * response resolution could change varies on the header; `default` is not served by name
 * in multi-tenant staging; refusals are JSON for API callers and a page for browsers, each
 * with its correlation id.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { getOnPort } from './support/http-client.ts';

const get = (t: TestAtrium, path: string, headers: Record<string, string>) => getOnPort(t.port, path, { accept: 'application/json', ...headers });

const varyList = (vary: string) => vary.split(',').map((v) => v.trim().toLowerCase());

/** A JSON refusal of the given status and code, whose correlation id is the response's. */
function assertRefusal(res: Awaited<ReturnType<typeof get>>, status: number, error: string, label: string): void {
  assert.equal(res.status, status, `${label}: ${res.text.slice(0, 200)}`);
  assert.equal(res.json?.error, error, label);
  assert.equal(typeof res.json.error_description, 'string', label);
  assert.ok(res.json.correlation_id, label);
  assert.equal(res.json.correlation_id, res.header('x-correlation-id'), label);
}

const INVALID_HEADERS = ['../acme', 'Bad Slug!', '_ops', '_platforms', '\u0430cme', 'a'.repeat(100), 'ACME', 'acme.', 'acme:443', 'user@acme', '[::1]', 'x'.repeat(10_240)];

describe('tenant header, multi-tenant development', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium();
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
  });
  after(() => t?.stop());
  const host = (sub?: string) => ({ host: `${sub ? `${sub}.` : ''}localhost:${t.port}` });

  it('answers 400 for a present but invalid tenant header, on every host and path', async () => {
    for (const value of INVALID_HEADERS) {
      // Undici refuses to send non-Latin-1 header bytes as a string; send the UTF-8 bytes as Latin-1.
      const wire = Buffer.from(value, 'utf8').toString('latin1');
      for (const h of [host(), host('acme'), host('unknown-tenant')]) {
        for (const path of ['/.well-known/openid-configuration', '/account/login']) {
          assertRefusal(await get(t, path, { ...h, 'x-tenant-id': wire }), 400, 'invalid_tenant', `${value.slice(0, 20)} at ${h.host}${path}`);
        }
      }
    }
  });

  it('answers 400 for an empty or blank tenant header', async () => {
    for (const value of ['', ' ', '\t']) {
      for (const h of [host(), host('acme')]) {
        assertRefusal(await get(t, '/.well-known/openid-configuration', { ...h, 'x-tenant-id': value }), 400, 'invalid_tenant', `"${value}" at ${h.host}`);
      }
    }
  });

  it('never serves a header naming no tenant by the platform tenant or the development fallback', async () => {
    for (const h of [host(), host('unknown-tenant')]) {
      const res = await get(t, '/.well-known/openid-configuration', { ...h, 'x-tenant-id': 'nope' });
      assert.ok(res.status >= 400 && res.status < 500, `${h.host}: ${res.status} ${res.text.slice(0, 200)}`);
      assertRefusal(res, res.status, 'unknown_tenant', h.host);
    }
  });

  it('answers 400 naming the conflict when the subdomain and the header name different tenants', async () => {
    const res = await get(t, '/.well-known/openid-configuration', { ...host('acme'), 'x-tenant-id': 'globex' });
    assertRefusal(res, 400, 'tenant_conflict', 'acme host, globex header');
    assert.match(res.json.error_description, /acme/);
    assert.match(res.json.error_description, /globex/);
    // The same tenant both ways is no conflict.
    const same = await get(t, '/.well-known/openid-configuration', { ...host('acme'), 'x-tenant-id': 'acme' });
    assert.equal(same.status, 200);
    assert.equal(same.json.issuer, t.issuer('acme'));
  });

  it('answers 400 naming the conflict when a custom domain and the header name different tenants', async () => {
    const domain = `login.acme-corp.test:${t.port}`;
    assert.equal((await t.addVerifiedDomain('acme', domain)).status, 201);
    try {
      const res = await get(t, '/.well-known/openid-configuration', { host: domain, 'x-tenant-id': 'globex' });
      assertRefusal(res, 400, 'tenant_conflict', 'acme domain, globex header');
      assert.equal((await get(t, '/.well-known/openid-configuration', { host: domain, 'x-tenant-id': 'acme' })).status, 200);
    } finally {
      assert.equal((await t.api('DELETE', `/tenants/acme/domains/${encodeURIComponent(domain)}`)).status, 204);
    }
  });

  it('varies on the tenant header on every response resolution could change, keeping Origin', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/.well-known/openid-configuration', host('acme')],
      ['/.well-known/openid-configuration', { ...host(), 'x-tenant-id': 'acme' }],
      ['/jwks', { ...host(), 'x-tenant-id': 'globex' }],
      ['/.well-known/oauth-authorization-server', { ...host(), 'x-tenant-id': 'acme' }],
      ['/account/login', host('acme')],
      ['/nope', host('acme')],
      ['/.well-known/openid-configuration', { ...host(), 'x-tenant-id': 'Bad Slug!' }],
      ['/.well-known/openid-configuration', { ...host('acme'), 'x-tenant-id': 'globex' }],
      ['/.well-known/openid-configuration', { ...host(), 'x-tenant-id': 'nope' }],
    ];
    // Twice: the second discovery and JWKS answers come from the recorded documents.
    for (let round = 0; round < 2; round++) {
      for (const [path, headers] of cases) {
        const res = await get(t, path, headers);
        const vary = varyList(res.header('vary'));
        assert.ok(vary.includes('x-tenant-id'), `${path} ${JSON.stringify(headers)} (${res.status}): Vary is "${res.header('vary')}"`);
        if (path.startsWith('/.well-known') && res.status === 200) assert.ok(vary.includes('origin'), `${path}: Origin kept in "${res.header('vary')}"`);
      }
    }
  });

  it('answers a browser with a page carrying the correlation id', async () => {
    for (const headers of [{ ...host(), 'x-tenant-id': '../acme' }, { ...host('acme'), 'x-tenant-id': 'globex' }, { ...host(), 'x-tenant-id': 'nope' }]) {
      const res = await get(t, '/account/login', { ...headers, accept: 'text/html' });
      assert.ok(res.status >= 400 && res.status < 500, `${JSON.stringify(headers)}: ${res.status}`);
      assert.match(res.header('content-type'), /text\/html/);
      const id = res.header('x-correlation-id');
      assert.ok(id && res.text.includes(id), 'the page shows the correlation id');
    }
  });
});

describe('tenant header, single-tenant and header strategy off', () => {
  let single: TestAtrium;
  let subdomainOnly: TestAtrium;
  before(async () => {
    single = await startTestAtrium({ MULTI_TENANCY_ENABLED: 'false' });
    subdomainOnly = await startTestAtrium({ MULTI_TENANCY_EXTRACTION_PRIORITY: 'subdomain' });
  });
  after(async () => {
    await single?.stop();
    await subdomainOnly?.stop();
  });

  it('does not vary on, nor look at, the header when the header strategy is off', async () => {
    for (const t of [single, subdomainOnly]) {
      const res = await get(t, '/.well-known/openid-configuration', { host: `localhost:${t.port}`, 'x-tenant-id': 'Bad Slug!' });
      assert.equal(res.status, 200);
      assert.ok(!varyList(res.header('vary')).includes('x-tenant-id'), res.header('vary'));
    }
  });
});

describe('the default tenant, multi-tenant staging', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium({ ATRIUM_ENV: 'staging' });
    assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(() => t?.stop());

  it('is not served by name, by subdomain or header', async () => {
    assertRefusal(await get(t, '/.well-known/openid-configuration', { host: `default.localhost:${t.port}` }), 400, 'unknown_tenant', 'default subdomain');
    assertRefusal(await get(t, '/.well-known/openid-configuration', { host: `localhost:${t.port}`, 'x-tenant-id': 'default' }), 400, 'unknown_tenant', 'default header');
    assertRefusal(await get(t, '/account/login', { host: `default.localhost:${t.port}` }), 400, 'unknown_tenant', 'default login page');
    // Other tenants are served as usual.
    assert.equal((await get(t, '/.well-known/openid-configuration', { host: `acme.localhost:${t.port}` })).json.issuer, t.issuer('acme'));
    assert.equal((await get(t, '/.well-known/openid-configuration', { host: `localhost:${t.port}`, 'x-tenant-id': 'acme' })).json.issuer, t.issuer('acme'));
  });
});
