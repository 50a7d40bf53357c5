/**
 * URLs come from the tenant's issuer, never from the request (issue 18, item 2): a hostile
 * Host is refused outside development (health probes excepted), a tenant's discovery
 * document is byte-identical however the tenant was resolved, and the URLs oidc-provider
 * writes into redirects follow the issuer. Plus the bad-input table for Host and the tenant
 * header: 4xx, never 5xx.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { getOnPort, hiddenInput, TestBrowser } from './support/http-client.ts';
import { createTenantFixture, discover, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';

const get = (t: TestAtrium, path: string, headers: Record<string, string>) => getOnPort(t.port, path, { accept: 'application/json', ...headers });

/** One request written byte for byte (the table sends what HTTP clients refuse to); returns the status. */
function rawStatus(port: number, head: string): Promise<{ status: number; response: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no status line in ${JSON.stringify(data.slice(0, 200))}`));
      resolve({ status: Number(m[1]), response: data });
    });
    // write, not end: a half-closed connection lets Node abort the request before it is answered;
    // `Connection: close` in every head makes the server close once it has answered.
    socket.write(Buffer.from(head, 'latin1'));
  });
}

const discoveryPath = '/.well-known/openid-configuration';

describe('issuer-bound URLs, multi-tenant staging', () => {
  let t: TestAtrium;
  before(async () => {
    t = await startTestAtrium({ ATRIUM_ENV: 'staging' });
    for (const slug of ['acme', 'globex']) assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
  });
  after(() => t?.stop());

  it('refuses a Host this deployment does not serve with a 400, whatever the tenant header says', async () => {
    const cases: Record<string, string>[] = [{ host: 'evil.test', 'x-tenant-id': 'acme' }, { host: `evil.test:${t.port}` }, { host: `acme.localhost.evil.test:${t.port}` }, { host: `127.0.0.1:${t.port}`, 'x-tenant-id': 'acme' }];
    for (const headers of cases) {
      for (const path of [discoveryPath, '/jwks', '/account/login', '/auth', '/api/v1/tenants']) {
        const res = await get(t, path, headers);
        assert.equal(res.status, 400, `${JSON.stringify(headers)} ${path}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.json?.error, 'unknown_host', path);
        assert.equal(res.json.correlation_id, res.headers['x-correlation-id']);
        assert.doesNotMatch(res.text, /evil\.test/);
      }
    }
  });

  it('answers health probes on any host', async () => {
    for (const host of ['evil.test', `127.0.0.1:${t.port}`, `acme.localhost:${t.port}`]) {
      assert.equal((await get(t, '/healthz', { host })).status, 200, host);
      assert.equal((await get(t, '/readyz', { host })).status, 200, host);
      // /metrics without METRICS_TOKEN: the probe route answers its own 404, not the host guard.
      assert.equal((await get(t, '/metrics', { host })).json?.error, 'not_found', host);
    }
  });

  it('ignores the authority of an absolute-form request target for nothing: it is the host checked', async () => {
    const evil = await rawStatus(t.port, `GET http://evil.test${discoveryPath} HTTP/1.1\r\nHost: acme.localhost:${t.port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    assert.equal(evil.status, 400, evil.response.slice(0, 300));
    assert.doesNotMatch(evil.response, /evil\.test/);
    const good = await rawStatus(t.port, `GET http://acme.localhost:${t.port}${discoveryPath} HTTP/1.1\r\nHost: acme.localhost:${t.port}\r\nConnection: close\r\n\r\n`);
    assert.equal(good.status, 200, good.response.slice(0, 300));
    assert.match(good.response, new RegExp(`"token_endpoint":"${t.issuer('acme')}/token"`));
  });

  it("serves a tenant's discovery document byte for byte the same however the tenant was resolved", async () => {
    assert.equal((await t.addVerifiedDomain('acme', 'login.acme-corp.test')).status, 201);
    const ways: Record<string, string>[] = [
      { host: `acme.localhost:${t.port}` },
      { host: `localhost:${t.port}`, 'x-tenant-id': 'acme' },
      { host: 'login.acme-corp.test' },
      { host: 'login.acme-corp.test', 'x-tenant-id': 'acme' },
      { host: `acme.localhost:${t.port}`, 'x-tenant-id': 'acme' },
    ];
    // Twice: the second round is served from the recorded documents.
    for (let round = 0; round < 2; round++) {
      const bodies = [];
      for (const headers of ways) {
        const res = await get(t, discoveryPath, headers);
        assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${res.text.slice(0, 200)}`);
        bodies.push(res.text);
      }
      const doc = JSON.parse(bodies[0]!);
      assert.equal(doc.issuer, 'https://login.acme-corp.test');
      for (const key of ['authorization_endpoint', 'token_endpoint', 'jwks_uri', 'end_session_endpoint', 'userinfo_endpoint']) {
        assert.ok(String(doc[key]).startsWith('https://login.acme-corp.test/'), `${key}: ${doc[key]}`);
      }
      for (const [i, body] of bodies.entries()) assert.equal(body, bodies[0], `way ${i} (${JSON.stringify(ways[i])}) differs`);
    }
    assert.equal((await t.api('DELETE', '/tenants/acme/domains/login.acme-corp.test')).status, 204);
  });

  it("points a header-chosen tenant's jwks_uri at its own keys", async () => {
    const viaHeader = await get(t, discoveryPath, { host: `localhost:${t.port}`, 'x-tenant-id': 'globex' });
    assert.equal(viaHeader.json.jwks_uri, `${t.issuer('globex')}/jwks`);
    const own = (await get(t, '/jwks', { host: `globex.localhost:${t.port}` })).json.keys.map((k: { kid: string }) => k.kid).sort();
    const platform = (await get(t, '/jwks', { host: `localhost:${t.port}` })).json.keys.map((k: { kid: string }) => k.kid);
    assert.ok(own.length > 0 && !own.some((k: string) => platform.includes(k)));
  });

  it('answers the bad-input table for Host and the tenant header with a 4xx, never a 5xx', async () => {
    const p = t.port;
    const hosts = [
      '',
      ' ',
      `\u0430cme.localhost:${p}`,
      `xn--cme-8cd.localhost:${p}`,
      'xn--80ak6aa92e.com',
      `acme.localhost.:${p}`,
      `acme.localhost..:${p}`,
      `acme.localhost:${p}:${p}`,
      'acme.localhost:99999',
      'acme.localhost:0',
      'acme.localhost:abc',
      'acme.localhost:',
      `acme.localhost:+${p}`,
      `user@acme.localhost:${p}`,
      `acme.localhost:${p}@evil.test`,
      '[::1]',
      `[::1]:${p}`,
      '[::ffff:127.0.0.1]',
      '[::1',
      '::1',
      `${'a'.repeat(10_240)}.localhost`,
      `acme.localhost:${p}, evil.test`,
      `acme.localhost/evil:${p}`,
      `*.localhost:${p}`,
      `_platforms.localhost:${p}`,
      `default.localhost:${p}`,
      `a.b.localhost:${p}`,
    ];
    for (const host of hosts) {
      for (const path of [discoveryPath, '/account/login', '/token']) {
        const method = path === '/token' ? 'POST' : 'GET';
        const { status, response } = await rawStatus(p, `${method} ${path} HTTP/1.1\r\nHost: ${Buffer.from(host, 'utf8').toString('latin1')}\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        assert.ok(status >= 400 && status < 500, `Host ${JSON.stringify(host.slice(0, 40))} ${path}: ${status} ${response.slice(0, 300)}`);
      }
    }
    const values = ['', ' ', '\u0430cme', 'xn--cme-8cd', 'acme.', 'acme:443', 'user@acme', '[::1]', '::1', 'a'.repeat(10_240), 'acme, globex', '../acme', '%61cme'];
    for (const value of values) {
      for (const path of [discoveryPath, '/account/login', '/token']) {
        const method = path === '/token' ? 'POST' : 'GET';
        const head = `${method} ${path} HTTP/1.1\r\nHost: localhost:${p}\r\nX-Tenant-ID: ${Buffer.from(value, 'utf8').toString('latin1')}\r\nAccept: application/json\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`;
        const { status, response } = await rawStatus(p, head);
        assert.ok(status >= 400 && status < 500, `x-tenant-id ${JSON.stringify(value.slice(0, 40))} ${path}: ${status} ${response.slice(0, 300)}`);
      }
    }
    // Two tenant headers are one invalid value, not a choice.
    const twice = await rawStatus(p, `GET ${discoveryPath} HTTP/1.1\r\nHost: localhost:${p}\r\nX-Tenant-ID: acme\r\nX-Tenant-ID: globex\r\nConnection: close\r\n\r\n`);
    assert.equal(twice.status, 400);
  });
});

describe('issuer-bound URLs, multi-tenant development', () => {
  let t: TestAtrium;
  let acme: TenantFixture;
  before(async () => {
    t = await startTestAtrium();
    acme = await createTenantFixture(t, 'acme');
  });
  after(() => t?.stop());

  it('writes the redirects oidc-provider sends on the issuer, for a tenant reached through the header on the platform host', async () => {
    const viaHeader = { 'x-tenant-id': 'acme' };
    const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    const auth = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'z'.repeat(43), code_challenge_method: 'S256' });
    const browser = new TestBrowser();
    // The same authorization request, sent to the platform host with the tenant header.
    const res = await browser.request(`${t.baseUrl}${auth.pathname}${auth.search}`, { headers: viaHeader });
    assert.equal(res.status, 303);
    const page = await browser.request(new URL(res.headers.get('location')!, t.baseUrl), { headers: viaHeader });
    const html = await page.text();
    const login = await browser.postForm(`${page.url.replace(/\/$/, '')}/login`, { csrf: hiddenInput(html, 'csrf'), email: acme.email, password: acme.password }, viaHeader);
    assert.equal(login.status, 303);
    const returnTo = new URL(login.headers.get('location')!, t.baseUrl);
    assert.equal(returnTo.origin, acme.issuer, `resume URL ${returnTo.href}`);
  });

  it("writes a header-chosen tenant's discovery endpoints on its issuer, not the platform host", async () => {
    const viaHeader = await get(t, discoveryPath, { host: `localhost:${t.port}`, 'x-tenant-id': 'acme' });
    const viaSubdomain = await get(t, discoveryPath, { host: `acme.localhost:${t.port}` });
    assert.equal(viaHeader.json.token_endpoint, `${acme.issuer}/token`);
    assert.equal(viaHeader.text, viaSubdomain.text);
  });
});
