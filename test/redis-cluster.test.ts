/**
 * Atrium on a real Redis Cluster of this test's own: 3 masters and 3 replicas from Debian's
 * redis-server on free ports (test/support/redis-cluster.ts), REDIS_URL=redis+cluster://.
 *   - the bus (sharded pub/sub) and the rate limiter, in this process: events cross between
 *     two buses, also after the master of the bus channel's slot dies; counters are shared
 *     and a tenant's keys sit on one slot;
 *   - two Atrium processes (needs DATABASE_URL: two processes share one PostgreSQL):
 *     a change through one reaches the other; limits hold for their sum; a master is
 *     killed under mixed load and its replica takes over with no 5xx (no 503 either), and
 *     a refresh token, a client and a user from before still work.
 * Skipped only when redis-server or redis-cli is missing (the process part also without
 * DATABASE_URL, as test/multi-instance.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { loadConfig } from '../src/config/env.ts';
import type { RedisTarget } from '../src/config/redis-target.ts';
import type { AtriumEvent, EventBus } from '../src/events/bus.ts';
import { busChannels, createRedisBus } from '../src/events/redis-bus.ts';
import { MemoryRateLimiter, rateLimitStorageKey } from '../src/security/rate-limiter.ts';
import { RedisRateLimiter } from '../src/security/rate-limiter-redis.ts';
import { createDeployment, type AtriumProcess, type Deployment } from './support/atrium-process.ts';
import { REDIRECT_URI } from './support/fixtures.ts';
import { hiddenInput } from './support/http-client.ts';
import { MixedLoad, type LoadTarget, type LoadTenant } from './support/mixed-load.ts';
import { basic } from './support/rate-limit-helpers.ts';
import { PrivateRedisCluster, redisClusterMissing } from './support/redis-cluster.ts';

const clusterSkip = redisClusterMissing() ?? false;
const processSkip = clusterSkip || (process.env.DATABASE_URL ? false : 'two Atrium processes need DATABASE_URL (one shared PostgreSQL)');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const silent = pino({ level: 'silent' });

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, withinMs: number): Promise<number> {
  const started = performance.now();
  let last: T | undefined;
  while (performance.now() - started < withinMs) {
    last = await probe();
    if (ok(last)) return performance.now() - started;
    await sleep(25);
  }
  throw new Error(`${what} did not happen within ${withinMs} ms (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

let cluster: PrivateRedisCluster;
let target: RedisTarget;
before(async () => {
  if (clusterSkip) return;
  cluster = await PrivateRedisCluster.start(3, 1);
  target = loadConfig({ REDIS_URL: cluster.url }).redis!;
  assert.equal(target.kind, 'cluster');
});
after(() => cluster?.stop());

describe('the bus and the rate limiter on a Redis Cluster', { skip: clusterSkip }, () => {
  it('events cross between two buses by sharded pub/sub, and again once a replica has taken over the channel\'s master', async () => {
    const deployment = randomUUID();
    const { channel, sharded } = busChannels(deployment);
    const buses: EventBus[] = [createRedisBus(target, deployment, silent), createRedisBus(target, deployment, silent)];
    try {
      const heard: string[] = [];
      buses[1]!.subscribe((e: AtriumEvent) => heard.push(String((e as { marker?: string }).marker)));
      /** Publishes on the first bus until the second hears it (the subscription starts asynchronously). */
      const crosses = async (withinMs: number) => {
        const marker = randomUUID();
        const event = { type: 'tenant.changed', tenantId: 't', marker } as unknown as AtriumEvent;
        return eventually('an event crossing', async () => (heard.includes(marker) ? true : (await buses[0]!.publish(event), false)), Boolean, withinMs);
      };
      await crosses(5_000);
      // Sharded: the subscribers sit on the master owning the channel's slot; no classic subscription anywhere.
      const slot = await cluster.keySlot(sharded);
      assert.equal(slot, await cluster.keySlot(deployment), 'the slot is the deployment id\'s (the {hash tag})');
      const master = await cluster.masterOf(slot);
      assert.deepEqual(await cluster.command(master, 'PUBSUB', 'SHARDNUMSUB', sharded), [sharded, 2]);
      for (const n of cluster.running()) assert.deepEqual(await cluster.command(n.port, 'PUBSUB', 'NUMSUB', channel), [channel, 0]);

      await cluster.kill(master);
      const failoverMs = await cluster.waitForFailover(slot, master, 30_000);
      const crossMs = await crosses(10_000);
      console.log(`[bus] failover ${failoverMs} ms; first event across ${Math.round(crossMs)} ms after it`);
      assert.ok(buses.every((b) => b.healthy), 'both buses report healthy after the failover');
      await cluster.restart(master); // back as a replica of the new master
      await cluster.waitUntilHealthy(6, 30_000);
      await cluster.waitForReplication(3, 30_000);
    } finally {
      await Promise.all(buses.map((b) => b.close()));
    }
  });

  it('two limiters share one counter, and every key of a tenant sits on the tenant\'s slot', async () => {
    const hashKey = randomBytes(32);
    const limiters = [0, 1].map(() => new RedisRateLimiter(target, silent, new MemoryRateLimiter(hashKey), hashKey, { firstConnectWaitMs: 5_000 }));
    try {
      const tenantId = randomUUID();
      const rule = { name: 'token_per_client', limit: 5, windowSeconds: 3600 };
      const key = { tenantId, subject: 'client-1' };
      const allowed = [];
      for (let i = 0; i < 8; i++) allowed.push((await limiters[i % 2]!.consume(key, rule)).allowed);
      assert.deepEqual(allowed, [true, true, true, true, true, false, false, false]);
      const storageKey = rateLimitStorageKey(key, rule, hashKey);
      const slot = await cluster.keySlot(storageKey);
      assert.equal(await cluster.command(await cluster.masterOf(slot), 'HGET', storageKey, 'c'), '5', 'the count is in the cluster, on the master of its slot');
      const others = [
        rateLimitStorageKey({ tenantId, subject: '203.0.113.9' }, { name: 'login_per_ip', limit: 1, windowSeconds: 60 }, hashKey),
        rateLimitStorageKey({ tenantId, subject: 'alice@example.com' }, { name: 'login_per_account', limit: 1, windowSeconds: 60 }, hashKey),
        rateLimitStorageKey({ tenantId, subject: '198.51.100.1' }, { name: 'token_per_ip', limit: 1, windowSeconds: 60 }, hashKey),
      ];
      for (const k of others) assert.equal(await cluster.keySlot(k), slot, k);
      assert.equal(slot, await cluster.keySlot(tenantId), 'the slot is the tenant id\'s (the {hash tag})');
      await limiters[1]!.reset(key, rule);
      assert.equal((await limiters[0]!.consume(key, rule)).allowed, true, 'a reset through one limiter clears the shared counter');
    } finally {
      await Promise.all(limiters.map((l) => l.close()));
    }
  });
});

describe('two Atrium processes on a Redis Cluster', { skip: processSkip }, () => {
  let d: Deployment;
  let a: AtriumProcess;
  let b: AtriumProcess;
  let token: string;
  const api = async (instance: AtriumProcess, method: string, path: string, body?: unknown) =>
    instance.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const ok = async (method: string, path: string, body?: unknown) => {
    const res = await api(a, method, path, body);
    assert.ok(res.status < 300, `${method} ${path}: ${res.status} ${res.text}`);
    return res.json;
  };
  const jwks = async (i: AtriumProcess, slug: string) => ((await i.request(d.host(slug), '/jwks')).json as { keys: { kid: string }[] }).keys.map((k) => k.kid);
  /** A key rotation through A, seen in B's JWKS; the ms it took. */
  const rotationReachesB = async (slug: string) => {
    await jwks(b, slug);
    const rotated = await api(a, 'POST', `/tenants/${slug}/keys/rotate`);
    assert.equal(rotated.status, 200, rotated.text);
    const current = (rotated.json.keys as { kid: string; status: string }[]).filter((k) => k.status === 'current').map((k) => k.kid);
    return eventually('B publishing the new key', () => jwks(b, slug), (kids) => current.every((k) => kids.includes(k)), 1000);
  };

  before(async () => {
    d = await createDeployment({ METRICS_TOKEN: 'metrics-token-for-the-cluster-test' }, { redisUrl: cluster.url });
    [a, b] = await Promise.all([d.start(), d.start()]);
    token = await d.platformToken(a);
    await ok('POST', '/tenants', { slug: 'acme', name: 'Acme' });
    await ok('POST', '/tenants', { slug: 'limits', name: 'Limits' });
  });
  after(() => d?.drop());

  it('both report Redis ok, and a change through A reaches B within a second', async () => {
    for (const i of [a, b]) assert.equal((await i.request(d.host(), '/readyz')).json.checks.redis, 'ok');
    const ms = await rotationReachesB('acme');
    assert.ok(ms < 1000);
    const suspended = await api(a, 'PATCH', '/tenants/acme', { status: 'suspended' });
    assert.equal(suspended.status, 200);
    await eventually('B refusing the suspended tenant', async () => (await b.request(d.host('acme'), '/.well-known/openid-configuration')).status, (s) => s === 403, 1000);
    assert.equal((await api(a, 'PATCH', '/tenants/acme', { status: 'active' })).status, 200);
    await eventually('B serving the tenant again', async () => (await b.request(d.host('acme'), '/.well-known/openid-configuration')).status, (s) => s === 200, 1000);
  });

  it('a limit holds for the sum of both instances: token requests and sign-in attempts', async () => {
    const web = await ok('POST', '/tenants/limits/clients', { redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'] });
    const m2m = await ok('POST', '/tenants/limits/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    await ok('POST', '/tenants/limits/users', { email: 'alice@limits.test', password: 'alice-correct-horse' });
    await ok('PUT', '/tenants/limits/config/security', { rate_limits: { token_per_client: { limit: 6, window_seconds: 3600 }, login_per_ip: { limit: 4, window_seconds: 3600 } } });
    await sleep(300); // B hears the change event
    const tokenAt = (i: AtriumProcess) =>
      i.request(d.host('limits'), '/token', { method: 'POST', headers: { authorization: basic(m2m.client_id, m2m.client_secret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    for (const [n, instance] of [a, b, a, b, a, b].entries()) assert.equal((await tokenAt(instance)).status, 200, `token request ${n + 1}`);
    for (const instance of [a, b]) {
      const refused = await tokenAt(instance);
      assert.equal(refused.status, 429, refused.text);
      assert.equal(refused.json.error, 'rate_limited');
    }

    const auth = await a.request(d.host('limits'), `/auth?${new URLSearchParams({ client_id: web.client_id, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: 'cluster' }).toString()}`);
    assert.equal(auth.status, 303, auth.text);
    const cookie = ([auth.headers['set-cookie']].flat().filter(Boolean) as string[]).map((c) => c.split(';')[0]).join('; ');
    const location = new URL(String(auth.headers.location), d.publicUrl).pathname;
    const page = await a.request(d.host('limits'), location, { headers: { cookie } });
    assert.equal(page.status, 200, page.text.slice(0, 300));
    const form = (password: string) => new URLSearchParams({ csrf: hiddenInput(page.text, 'csrf'), email: 'alice@limits.test', password }).toString();
    const submit = (i: AtriumProcess, password: string) => i.request(d.host('limits'), `${location}/login`, { method: 'POST', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded' }, body: form(password) });
    for (const [n, instance] of [a, b, a, b].entries()) assert.equal((await submit(instance, 'wrong password')).status, 401, `attempt ${n + 1}`);
    for (const instance of [b, a]) {
      const refused = await submit(instance, 'alice-correct-horse');
      assert.equal(refused.status, 429);
      assert.match(refused.text, /Too many sign-in attempts/);
    }
  });

  it('a master is killed under mixed load: its replica takes over with no 5xx, and what was made before still works', async () => {
    const tenantId = (await ok('GET', '/tenants/acme')).id as string;
    // Limits on, high enough for the load: the limiter's keys live on the master we kill.
    await ok('PUT', '/tenants/acme/config/security', { rate_limits: { login_per_ip: { limit: 600, window_seconds: 60 }, token_per_client: { limit: 60_000, window_seconds: 60 }, token_per_ip: { limit: 60_000, window_seconds: 60 } } });
    const web = await ok('POST', '/tenants/acme/clients', { redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'] });
    const m2m = await ok('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    await ok('POST', '/tenants/acme/users', { email: 'before@acme.test', password: 'a-long-enough-password', email_verified: true });
    const tenant: LoadTenant = {
      host: d.host('acme'),
      issuer: `http://${d.host('acme')}`,
      apiHost: d.host(),
      apiToken: token,
      webClient: { id: web.client_id, secret: web.client_secret },
      m2mClient: { id: m2m.client_id, secret: m2m.client_secret },
      user: { email: 'before@acme.test', password: 'a-long-enough-password' },
    };
    const load = new MixedLoad(tenant);
    const targets: LoadTarget[] = [
      { name: 'a', port: a.port },
      { name: 'b', port: b.port },
    ];
    try {
      // Made before the fault and kept unused through it.
      const saved = await load.signIn(targets[0]!, 'probe');
      assert.ok(saved, 'the user signs in before the fault');
      const slot = await cluster.keySlot(tenantId);
      const master = await cluster.masterOf(slot);
      load.start(targets);
      load.phase = 'before';
      await sleep(1_500);
      load.phase = 'failover';
      await cluster.kill(master);
      const failoverMs = await cluster.waitForFailover(slot, master, 30_000);
      load.phase = 'after';
      await sleep(2_000);
      await load.stop();
      const report = Object.fromEntries(['before', 'failover', 'after'].map((p) => [p, load.totals(p)]));
      console.log(`[cluster failover] ${failoverMs} ms`, JSON.stringify(report));
      for (const phase of ['before', 'failover', 'after']) {
        assert.deepEqual(load.bad(phase), [], `${phase}: nothing but 2xx/3xx`);
        assert.deepEqual(Object.keys(load.totals(phase)), ['ok'], `${phase}: every request answered, no 503 either`);
      }
      assert.ok((load.totals('failover').ok ?? 0) > 0, 'requests were served while the master was down');
      const localCounting = [a, b].map((i) => i.logs.filter((l) => l.includes('counting in this instance only')).length);
      console.log(`[cluster failover] instances that fell back to counting locally (warned once a minute): ${localCounting.join(', ')}`);

      // The refresh token from before, the machine client and the user.
      const refreshed = await load.refresh(targets[1]!, saved, 'probe');
      assert.equal(refreshed.reply?.status, 200, refreshed.reply?.text);
      await load.clientCredentials(targets[1]!);
      assert.ok(await load.signIn(targets[1]!, 'probe'), 'the user from before signs in after the failover');
      assert.deepEqual(Object.keys(load.totals('failover')), ['ok']);
      // Counting is back in the cluster (on the promoted replica), and events still cross.
      const counter = `atrium:{${tenantId}}:rl:token_per_client:*`;
      const newMaster = await cluster.masterOf(slot);
      await eventually('the limiter counting in the cluster again', async () => ((await cluster.command(newMaster, 'KEYS', counter)) as string[]).length, (n) => n > 0, 5_000);
      const ms = await rotationReachesB('acme');
      console.log(`[cluster failover] a key rotation through A reached B in ${Math.round(ms)} ms after the failover`);
      for (const i of [a, b]) {
        const ready = await i.request(d.host(), '/readyz');
        assert.equal(ready.json.checks.redis, 'ok', JSON.stringify(ready.json));
        assert.equal(i.child.exitCode, null, 'the instance is still running');
      }
    } finally {
      await load.close();
    }
  });
});
