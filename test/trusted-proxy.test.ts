/**
 * TRUST_PROXY: the client address is taken from the right end of X-Forwarded-For, only
 * as far as known proxies reach, for rate limits, audit, sessions and the fast path
 * alike. Requests go through a real nginx started here (appending to X-Forwarded-For,
 * connecting from 127.0.0.2) and directly (from 127.0.0.1), with spoofed headers in both
 * cases. Every test client really is 127.0.0.1, so that is the address every limit,
 * audit event and session must see, whatever the client writes into the headers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { freePort, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch, TestBrowser } from './support/http-client.ts';
import { nginxAvailable, startNginx, type TestNginx } from './support/nginx.ts';
import { basic, openLoginForm, setRateLimits, tokenRequest } from './support/rate-limit-helpers.ts';

const skip = nginxAvailable() ? false : 'nginx is not installed (/usr/sbin/nginx)';
const HOUR = 3600;
let spoofCounter = 0;
/** A different forged client address every time, as a password sprayer would send. */
const spoofed = () => `198.51.100.${(spoofCounter++ % 250) + 1}`;

/** A browser that forges X-Forwarded-For (a new address each request) and X-Forwarded-Host. */
class SpoofingBrowser extends TestBrowser {
  override request(url: string | URL, init: Parameters<TestBrowser['request']>[1] = {}) {
    return super.request(url, { ...init, headers: { 'x-forwarded-for': spoofed(), ...(init.headers ?? {}) } });
  }
}

interface Setup {
  t: TestAtrium;
  nginx: TestNginx;
  /** A tenant's origin through nginx (its issuer: PUBLIC_URL is nginx's address). */
  viaProxy(slug: string): string;
  /** A tenant's origin on Atrium's own port, not through nginx. */
  direct(slug: string): string;
}

async function setUp(trustProxy: string): Promise<Setup> {
  const proxyPort = await freePort();
  const t = await startTestAtrium({ TRUST_PROXY: trustProxy, PUBLIC_URL: `http://localhost:${proxyPort}` });
  let nginx: TestNginx;
  try {
    nginx = await startNginx(t.port, { port: proxyPort, bindAddress: '127.0.0.2' });
  } catch (err) {
    await t.stop();
    throw err;
  }
  return { t, nginx, viaProxy: (slug) => `http://${slug}.localhost:${proxyPort}`, direct: (slug) => `http://${slug}.localhost:${t.port}` };
}

async function strictTenant(s: Setup, slug: string): Promise<TenantFixture> {
  const fixture = await createTenantFixture(s.t, slug);
  await setRateLimits(s.t, slug, { login_per_ip: { limit: 3, window_seconds: HOUR }, login_per_account: { limit: 100, window_seconds: HOUR }, token_per_ip: { limit: 3, window_seconds: HOUR } });
  return fixture;
}

async function auditIps(s: Setup, slug: string, action: string): Promise<string[]> {
  const res = await s.t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.events as { ip: string }[]).map((e) => e.ip);
}

/** Wrong passwords with a new forged X-Forwarded-For each time: the 4th is refused (limit 3 per IP). */
async function sprayPasswords(origin: string, fixture: TenantFixture): Promise<number[]> {
  const form = await openLoginForm({ ...fixture, issuer: origin }, spoofed());
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const res = await form.submit(`nobody-${randomUUID()}@spray.test`, 'wrong password', spoofed());
    statuses.push(res.status);
    await res.body?.cancel();
  }
  return statuses;
}

async function sprayTokens(origin: string, fixture: TenantFixture): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    statuses.push((await tokenRequest(origin, { authorization: basic(fixture.m2mClientId, fixture.m2mClientSecret), ip: spoofed() })).status);
  }
  return statuses;
}

describe('TRUST_PROXY=true: one hop, from a proxy on a loopback or private address', { skip }, () => {
  let s: Setup;
  before(async () => {
    s = await setUp('true');
  });
  after(async () => {
    await s?.nginx.stop();
    await s?.t.stop();
  });

  it('through nginx, a forged X-Forwarded-For does not escape the per-IP sign-in limit; audit records the real address', async () => {
    const fixture = await strictTenant(s, 'legacy-login');
    assert.deepEqual(await sprayPasswords(s.viaProxy('legacy-login'), fixture), [401, 401, 401, 429, 429]);
    const ips = await auditIps(s, 'legacy-login', 'user.sign_in');
    assert.ok(ips.length >= 3, `${ips.length} failed sign-ins audited`);
    assert.deepEqual([...new Set(ips)], ['127.0.0.1']);
  });

  it('through nginx, the token endpoint (fast path) limits by the real address', async () => {
    const fixture = await strictTenant(s, 'legacy-token');
    assert.deepEqual(await sprayTokens(s.viaProxy('legacy-token'), fixture), [200, 200, 200, 429, 429]);
  });

  it('through nginx, a forged X-Forwarded-Host does not pick another tenant', async () => {
    await createTenantFixture(s.t, 'legacy-host');
    await createTenantFixture(s.t, 'legacy-other');
    for (const path of ['/.well-known/openid-configuration', '/.well-known/openid-configuration?full']) {
      const res = await httpFetch(`${s.viaProxy('legacy-host')}${path}`, { headers: { 'x-forwarded-host': new URL(s.viaProxy('legacy-other')).host } });
      assert.equal(res.status, 200);
      assert.equal(((await res.json()) as { issuer: string }).issuer, s.viaProxy('legacy-host'), path);
    }
  });
});

describe('TRUST_PROXY=<CIDR list>: only the listed proxy is believed', { skip }, () => {
  let s: Setup;
  before(async () => {
    s = await setUp('127.0.0.2/32, 10.0.0.0/8');
  });
  after(async () => {
    await s?.nginx.stop();
    await s?.t.stop();
  });

  it('directly (the peer is not a listed proxy), forged X-Forwarded-For is ignored by the sign-in and token limits', async () => {
    const fixture = await strictTenant(s, 'direct');
    assert.deepEqual(await sprayPasswords(s.direct('direct'), fixture), [401, 401, 401, 429, 429]);
    assert.deepEqual(await sprayTokens(s.direct('direct'), fixture), [200, 200, 200, 429, 429]);
    assert.deepEqual([...new Set(await auditIps(s, 'direct', 'user.sign_in'))], ['127.0.0.1']);
  });

  it('directly, a forged X-Forwarded-Proto does not make the request https', async () => {
    await createTenantFixture(s.t, 'direct-proto');
    const res = await httpFetch(`${s.direct('direct-proto')}/.well-known/openid-configuration`, { headers: { 'x-forwarded-proto': 'https' } });
    const body = (await res.json()) as { token_endpoint: string };
    assert.ok(body.token_endpoint.startsWith('http://'), body.token_endpoint);
  });

  it('through nginx, the address nginx appended is the client, for limits, audit and the sign-in session', async () => {
    const fixture = await strictTenant(s, 'proxied');
    assert.deepEqual(await sprayPasswords(s.viaProxy('proxied'), fixture), [401, 401, 401, 429, 429]);
    assert.deepEqual(await sprayTokens(s.viaProxy('proxied'), fixture), [200, 200, 200, 429, 429]);
    assert.deepEqual([...new Set(await auditIps(s, 'proxied', 'user.sign_in'))], ['127.0.0.1']);

    // A successful sign-in (another tenant: this one's per-IP limit is spent), forged headers on every request.
    const other = await createTenantFixture(s.t, 'proxied-session');
    const auth = new URL(`${s.viaProxy('proxied-session')}/auth`);
    auth.search = new URLSearchParams({ client_id: other.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: randomUUID() }).toString();
    const { callback } = await signInThroughPages(auth, other, new SpoofingBrowser());
    assert.ok(callback.searchParams.get('code'), callback.href);
    const users = await s.t.api('GET', `/tenants/proxied-session/users?search=${encodeURIComponent(other.email)}`);
    const sessions = await s.t.api('GET', `/tenants/proxied-session/users/${users.body.users[0].id}/sessions`);
    assert.equal(sessions.status, 200, JSON.stringify(sessions.body));
    assert.ok(sessions.body.data.length >= 1, JSON.stringify(sessions.body));
    for (const session of sessions.body.data) assert.equal(session.ip, '127.0.0.1', JSON.stringify(session));
  });
});
