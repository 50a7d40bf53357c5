/**
 * `/metrics`: behind a bearer token on the main port (METRICS_TOKEN) or open on a port of
 * its own (METRICS_PORT); with neither it is a 404 (tenant-resolution.test.ts). The counts
 * follow what the instance did, and nothing secret or per-user ever appears in them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { BOOTSTRAP_CLIENT_SECRET, createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, SignInRefused, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

/** The value of one sample of the exposition, or undefined when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) return Number(m[3]);
  }
  return undefined;
}

async function eventually<T>(what: string, read: () => Promise<T>, ok: (v: T) => boolean, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`${what}: still ${JSON.stringify(v)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const token = randomBytes(24).toString('base64url');
/** METRICS_TOKEN: /metrics on the main port, to the bearer of the token. */
let withToken: TestAtrium;
/** METRICS_PORT: /metrics on a listener of its own, without a token. */
let withPort: TestAtrium;
before(async () => {
  [withToken, withPort] = await Promise.all([startTestAtrium({ METRICS_TOKEN: token }), startTestAtrium({ METRICS_PORT: '0' })]);
});
after(async () => {
  await withToken?.stop();
  await withPort?.stop();
});

const scrapePort = async (t: TestAtrium) => (await httpFetch(`http://127.0.0.1:${t.atrium.metricsPort ?? 0}/metrics`)).text();

describe('/metrics behind METRICS_TOKEN', () => {
  let acme: TenantFixture;
  const seen: string[] = [];
  before(async () => {
    acme = await createTenantFixture(withToken, 'acme');
  });

  const scrape = async (authorization = `Bearer ${token}`) => {
    const res = await httpFetch(`${withToken.baseUrl}/metrics`, { headers: { authorization, accept: 'text/plain;version=0.0.4;q=0.9,*/*;q=0.1' } });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };

  it('answers 401 in the JSON error shape without the token or with a wrong one', async () => {
    for (const authorization of ['', `Bearer ${token}x`, `Bearer ${token.slice(1)}`, `Basic ${Buffer.from(`x:${token}`).toString('base64')}`]) {
      const res = await httpFetch(`${withToken.baseUrl}/metrics`, { headers: authorization ? { authorization } : {} });
      assert.equal(res.status, 401, authorization);
      assert.match(res.headers.get('www-authenticate') ?? '', /^Bearer/);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.error, 'invalid_token');
      assert.equal(body.correlation_id, res.headers.get('x-correlation-id'));
      assert.doesNotMatch(JSON.stringify(body), /atrium_/);
    }
  });

  it('counts requests, pool activity, tokens and sign-ins by tenant', async () => {
    // Discovery, a machine token and a user's sign-in (one failed attempt, then a good one).
    assert.equal((await httpFetch(`${acme.issuer}/.well-known/openid-configuration`)).status, 200);
    const res = await httpFetch(`${acme.issuer}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${acme.m2mClientId}:${acme.m2mClientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'client_credentials' }).toString(),
    });
    const machine = (await res.json()) as { access_token: string };
    assert.ok(machine.access_token);
    const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    const verifier = oidc.randomPKCECodeVerifier();
    const authUrl = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
    await assert.rejects(signInThroughPages(authUrl, { email: acme.email, password: 'not-the-password' }), (err) => err instanceof SignInRefused && err.status === 401);
    const { callback } = await signInThroughPages(authUrl, acme);
    const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
    seen.push(machine.access_token, tokens.access_token, tokens.id_token!, callback.searchParams.get('code')!);

    const { status, type, text } = await scrape();
    assert.equal(status, 200);
    assert.match(type, /^text\/plain; version=0\.0\.4/);
    const requests = (route_class: string, status_class: string, tenant = 'acme') => sample(text, 'atrium_http_requests_total', { tenant, route_class, status_class }) ?? 0;
    assert.ok(requests('oidc-discovery', '2xx') >= 2, 'discovery (ours and openid-client’s)');
    assert.equal(requests('oidc-token', '2xx'), 2);
    assert.ok(requests('oidc-authorize', '3xx') >= 2);
    assert.equal(requests('interaction', '4xx'), 1, 'the failed sign-in');
    assert.ok(requests('interaction', '3xx') >= 2, 'the sign-in and the consent');
    assert.ok(requests('api', '2xx') >= 4, 'the fixture, through the API, counted under the tenant it acted on');
    assert.ok(requests('ops', '4xx', '') >= 1, 'the refused scrapes, before any tenant');
    assert.equal(sample(text, 'atrium_http_request_duration_seconds_count', { tenant: 'acme', route_class: 'oidc-token' }), 2);

    assert.ok((sample(text, 'atrium_provider_pool_size') ?? 0) >= 1);
    assert.equal(sample(text, 'atrium_provider_pool_max_size'), 10_922, 'the default tenant memory budget (1536 MB at 144 KiB a tenant)');
    assert.ok((sample(text, 'atrium_provider_pool_hits_total') ?? 0) >= 1);
    // acme's, built for its sign-in (creating clients builds none: oidc/client-validation.ts).
    assert.ok((sample(text, 'atrium_provider_pool_misses_total') ?? 0) >= 1, 'acme');
    assert.equal(sample(text, 'atrium_provider_pool_evictions_total'), 0);
    assert.ok((sample(text, 'atrium_provider_build_seconds_count') ?? 0) >= 1);

    assert.equal(sample(text, 'atrium_tokens_issued_total', { tenant: 'acme', grant_type: 'client_credentials' }), 1);
    assert.equal(sample(text, 'atrium_tokens_issued_total', { tenant: 'acme', grant_type: 'authorization_code' }), 1);
    assert.equal(sample(text, 'atrium_sign_ins_total', { tenant: 'acme', outcome: 'success' }), 1);
    assert.equal(sample(text, 'atrium_sign_ins_total', { tenant: 'acme', outcome: 'failure' }), 1);
    assert.match(text, /^# TYPE atrium_rate_limit_rejections_total counter$/m);
    assert.match(text, /^# TYPE atrium_event_bus_lag_seconds histogram$/m);
    assert.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'process metrics');
    if (process.env.REDIS_URL) assert.ok(sample(text, 'atrium_redis_healthy') !== undefined);
    else assert.equal(sample(text, 'atrium_redis_healthy'), undefined, 'no Redis gauge without Redis');
  });

  it('shows no secret, token, user or path', async () => {
    const { text } = await scrape();
    const forbidden = [token, BOOTSTRAP_CLIENT_SECRET, await withToken.platformToken(), acme.clientSecret, acme.m2mClientSecret, acme.password, 'not-the-password', acme.email, acme.userId, acme.clientId, acme.m2mClientId, ...seen];
    for (const value of forbidden) assert.ok(value && !text.includes(value), `the exposition contains ${value.slice(0, 12)}…`);
    const tenants = new Set([...text.matchAll(/tenant="([^"]*)"/g)].map((m) => m[1]));
    assert.deepEqual([...tenants].filter((s) => !['', 'acme', '_platforms'].includes(s!)), [], 'tenant labels are slugs');
    assert.doesNotMatch(text, /="\/|\/interaction\//, 'no paths in labels');
  });

  it('is served before tenant resolution, on a tenant host too, and only for GET', async () => {
    const res = await httpFetch(`${acme.issuer}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    await res.body?.cancel();
    const post = await httpFetch(`${withToken.baseUrl}/metrics`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(post.status, 405);
  });

  it('opens no listener of its own', () => {
    assert.equal(withToken.atrium.metricsPort, undefined);
  });
});

describe('/metrics on METRICS_PORT', () => {
  it('serves the metrics without a token on its own port, and nothing else there', async () => {
    assert.equal((await httpFetch(`${withPort.baseUrl}/healthz`)).status, 200);
    const port = withPort.atrium.metricsPort;
    assert.ok(port && port !== withPort.port);
    const res = await httpFetch(`http://127.0.0.1:${port}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.ok((sample(text, 'atrium_http_requests_total', { tenant: '', route_class: 'ops', status_class: '2xx' }) ?? 0) >= 1);
    const other = await httpFetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(other.status, 404);
    assert.equal(((await other.json()) as { error: string }).error, 'not_found');
    assert.equal((await httpFetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405);
  });

  it('is not served on the main port, with or without a token', async () => {
    for (const headers of [{}, { authorization: `Bearer ${token}` }]) {
      const res = await httpFetch(`${withPort.baseUrl}/metrics`, { headers });
      assert.equal(res.status, 404);
      assert.equal(((await res.json()) as { error: string }).error, 'not_found');
    }
  });
});

// Events travel between the instances of one deployment (one database): two more on a database of their own.
describe('event bus lag between two instances', { skip: process.env.REDIS_URL && testServerUrl() ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  it("observes the delay of another instance's events", async () => {
    const database = await createTestDatabase(testServerUrl()!);
    const instances: TestAtrium[] = [];
    try {
      instances.push(await startTestAtrium({}, { databaseUrl: database.url }));
      instances.push(await startTestAtrium({ METRICS_PORT: '0' }, { databaseUrl: database.url }));
      const [a, b] = instances as [TestAtrium, TestAtrium];
      await eventually('B connected to Redis', async () => sample(await scrapePort(b), 'atrium_redis_healthy'), (v) => v === 1);
      await eventually('A connected to Redis', async () => a.atrium.services.bus.healthy, (v) => v);
      const before = sample(await scrapePort(b), 'atrium_event_bus_lag_seconds_count', { type: 'tenant.changed' }) ?? 0;
      await a.atrium.services.bus.publish({ type: 'tenant.changed', tenantId: randomUUID(), slug: 'nobody' });
      await eventually('B observing the lag', async () => sample(await scrapePort(b), 'atrium_event_bus_lag_seconds_count', { type: 'tenant.changed' }) ?? 0, (n) => n > before);
      const text = await scrapePort(b);
      assert.ok((sample(text, 'atrium_event_bus_lag_seconds_bucket', { type: 'tenant.changed', le: '+Inf' }) ?? 0) > before);
      assert.ok((sample(text, 'atrium_event_bus_lag_seconds_sum', { type: 'tenant.changed' }) ?? -1) >= 0);
    } finally {
      for (const instance of instances) await instance.stop();
      await database.drop();
    }
  });
});

describe('stopping', () => {
  it('closes the metrics listener with the server', async () => {
    const port = withPort.atrium.metricsPort;
    assert.equal((await httpFetch(`http://127.0.0.1:${port}/metrics`)).status, 200);
    await withPort.stop();
    await assert.rejects(httpFetch(`http://127.0.0.1:${port}/metrics`));
  });
});
