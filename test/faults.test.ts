/**
 * Losing Redis or the database for a while degrades service; it never corrupts it or
 * crashes the process. SIGTERM lets in-flight requests finish and exits 0.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import pg from 'pg';
import { createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { createDeployment } from './support/atrium-process.ts';
import { PrivateRedis, startProxy, type CuttableProxy } from './support/faults.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

async function signInOnce(fixture: TenantFixture): Promise<void> {
  const config = await discover(fixture.issuer, fixture.clientId, fixture.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  const { callback } = await signInThroughPages(url, fixture);
  await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });
}

async function clientCredentials(fixture: TenantFixture): Promise<number> {
  const res = await httpFetch(`${fixture.issuer}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${fixture.m2mClientId}:${fixture.m2mClientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  await res.body?.cancel();
  return res.status;
}

async function readiness(t: TestAtrium) {
  const res = await httpFetch(`${t.baseUrl}/readyz`);
  return { status: res.status, body: (await res.json()) as { status: string; checks: Record<string, string> } };
}

describe('Redis goes away and comes back', () => {
  let redis: PrivateRedis;
  let t: TestAtrium;
  let acme: TenantFixture;
  before(async () => {
    redis = await PrivateRedis.start();
    t = await startTestAtrium({ REDIS_URL: redis.url });
    acme = await createTenantFixture(t, 'acme');
  });
  after(async () => {
    await t?.stop();
    await redis?.kill();
  });

  it('keeps signing users in and issuing tokens, reports degraded readiness, and reconnects', async () => {
    assert.equal((await readiness(t)).body.checks.redis, 'ok');
    await redis.kill();
    const statuses = await Promise.all(Array.from({ length: 20 }, () => clientCredentials(acme)));
    assert.deepEqual([...new Set(statuses)], [200]);
    for (let i = 0; i < 3; i++) await signInOnce(acme);
    const degraded = await readiness(t);
    assert.equal(degraded.status, 200, 'a Redis outage degrades; it does not take the instance out of rotation');
    assert.equal(degraded.body.status, 'degraded');
    // A change made meanwhile still takes effect (the event is applied locally, other instances repair by version).
    assert.equal((await t.api('PATCH', '/tenants/acme', { name: 'Acme during outage' })).status, 200);

    await redis.restart();
    const started = Date.now();
    while ((await readiness(t)).body.checks.redis !== 'ok') {
      assert.ok(Date.now() - started < 15_000, 'reconnected to Redis within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await clientCredentials(acme), 200);
  });
});

describe('the database goes away and comes back', { skip: testServerUrl() ? false : 'needs DATABASE_URL' }, () => {
  let proxy: CuttableProxy;
  let database: { url: string; drop: () => Promise<void> };
  let t: TestAtrium;
  let acme: TenantFixture;
  const count = async () => {
    const c = new pg.Client({ connectionString: database.url });
    await c.connect();
    const res = await c.query<{ users: string; clients: string; keys: string }>('SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM oidc_clients) AS clients, (SELECT count(*) FROM signing_keys) AS keys');
    await c.end();
    return res.rows[0];
  };

  before(async () => {
    database = await createTestDatabase(testServerUrl()!);
    const real = new URL(database.url);
    proxy = await startProxy({ host: real.hostname, port: Number(real.port || 5432) });
    const proxied = new URL(database.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String(proxy.port);
    t = await startTestAtrium({}, { databaseUrl: proxied.toString() });
    acme = await createTenantFixture(t, 'acme');
  });
  after(async () => {
    await t?.stop();
    await proxy?.cut();
    await database?.drop();
  });

  it('answers 503 with a correlation id while it is gone, stays up, and recovers with every row intact', async () => {
    const before = await count();
    await proxy.cut();

    const create = await t.api('POST', '/tenants/acme/users', { email: 'during@outage.test', password: 'outage-password-1' });
    assert.equal(create.status, 503, JSON.stringify(create.body));
    assert.equal(create.body.error, 'temporarily_unavailable');
    assert.equal(create.body.correlation_id, create.headers.get('x-correlation-id'));

    const tokenDuring = await httpFetch(`${acme.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'x'.repeat(43), client_id: acme.clientId, client_secret: acme.clientSecret }).toString(),
    });
    assert.ok([503, 400].includes(tokenDuring.status), `token endpoint answered ${tokenDuring.status}`);
    if (tokenDuring.status === 503) assert.equal(((await tokenDuring.json()) as { error: string }).error, 'temporarily_unavailable');

    const health = await httpFetch(`${t.baseUrl}/healthz`);
    assert.equal(health.status, 200, 'the process stays up');
    assert.equal((await readiness(t)).status, 503, 'not ready without its database');

    await proxy.restore();
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await t.api('GET', '/tenants/acme')).status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(recovered, 'the API works again once the database is back');
    await signInOnce(acme);
    assert.deepEqual(await count(), before, 'nothing was lost or half-written');
    assert.equal((await readiness(t)).status, 200);
  });
});

describe('SIGTERM during load', { skip: process.env.DATABASE_URL && process.env.REDIS_URL ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  it('finishes every request already received, refuses new ones, and exits 0', async () => {
    const d = await createDeployment();
    try {
      const instance = await d.start();
      const token = await d.platformToken(instance);
      const api = (method: string, path: string, body?: unknown) =>
        instance.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
      assert.equal((await api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
      // Each user creation hashes a password with argon2: slow enough to be in flight at SIGTERM.
      const finishedAt: number[] = [];
      const inFlight = Array.from({ length: 40 }, (_, i) =>
        api('POST', '/tenants/acme/users', { email: `u${i}@acme.test`, password: 'a-long-enough-password' }).finally(() => finishedAt.push(performance.now())),
      );
      // Let every request reach the server; the hashing keeps most of them in flight for a while.
      await new Promise((r) => setTimeout(r, 300));
      const sigtermAt = performance.now();
      const exit = instance.stop('SIGTERM');
      const results = await Promise.allSettled(inFlight);
      const statuses = results.map((r) => (r.status === 'fulfilled' ? r.value.status : `failed: ${String(r.reason)}`));
      assert.deepEqual([...new Set(statuses)], [201], `every in-flight request completed: ${statuses.join(', ')}`);
      assert.ok(finishedAt.some((at) => at > sigtermAt), 'some requests were still in flight at SIGTERM (else this proves nothing)');
      assert.equal(await exit, 0);
      await assert.rejects(instance.request(d.host(), '/healthz'), 'no new connections after shutdown');
    } finally {
      await d.drop();
    }
  });
});
