/**
 * Two deployments (each its own database) on one Redis: the events of one never reach the
 * other, whose cached tenants stay put, though both have a tenant `acme` (with different
 * ids); a tenant moved from one to the other (same id) is rate-limited in each apart. Two instances of one deployment (one database) still hear each other. A private
 * Redis (test/support/faults.ts) per file, so no other test process publishes on it; the
 * deployments are embedded PGlite, or fresh databases on DATABASE_URL's server.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import type { AtriumEvent } from '../src/events/bus.ts';
import { createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { PrivateRedis, redisServerMissing } from './support/faults.ts';
import { httpFetch } from './support/http-client.ts';
import { basic, setRateLimits, tokenRequest } from './support/rate-limit-helpers.ts';

/** Counts the tenant reads by slug of one instance's registry (what a dropped `slug:` entry costs). */
function countSlugReads(t: TestAtrium): { readonly reads: number } {
  const store = t.atrium.services.tenantStore;
  const read = store.findBySlug.bind(store);
  const counter = { reads: 0 };
  store.findBySlug = (slug) => {
    counter.reads++;
    return read(slug);
  };
  return counter;
}

/** Every message published on the Redis, whatever its channel: proof that an event went out. */
async function watchRedis(url: string): Promise<{ messages: string[]; close: () => void }> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  client.on('error', () => {});
  const messages: string[] = [];
  client.on('pmessage', (_pattern: string, _channel: string, message: string) => messages.push(message));
  await client.psubscribe('*');
  return { messages, close: () => client.disconnect() };
}

async function until(what: string, ok: () => boolean, withinMs = 2_000): Promise<void> {
  const started = Date.now();
  while (!ok()) {
    if (Date.now() - started > withinMs) throw new Error(`${what}: not within ${withinMs} ms`);
    await sleep(10);
  }
}

describe('two deployments on one Redis', { skip: redisServerMissing() }, () => {
  let redis: PrivateRedis;
  let one: TestAtrium;
  let two: TestAtrium;

  before(async () => {
    redis = await PrivateRedis.start();
    // One master key for both, as when a staging deployment is seeded from production's.
    const env = { REDIS_URL: redis.url, ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    [one, two] = await Promise.all([startTestAtrium(env), startTestAtrium(env)]);
    for (const t of [one, two]) assert.equal((await t.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(async () => {
    await Promise.all([one?.stop(), two?.stop()]);
    await redis?.kill();
  });

  it("a change in one deployment neither reaches the other's bus nor drops its cached tenant of the same slug", async () => {
    const registry = two.atrium.services.registry;
    const cached = await registry.bySlug('acme');
    assert.ok(cached);
    assert.notEqual(cached.id, (await one.atrium.services.registry.bySlug('acme'))?.id, 'the same slug, another tenant');
    const heard: AtriumEvent[] = [];
    two.atrium.services.bus.subscribe((event) => heard.push(event));
    const counter = countSlugReads(two);
    const wire = await watchRedis(redis.url);
    try {
      assert.equal((await one.api('PATCH', '/tenants/acme', { name: 'Acme One' })).status, 200);
      assert.equal((await one.api('POST', '/tenants/acme/keys/rotate')).status, 200);
      await until('both events published on the Redis', () => wire.messages.length >= 2);
      // Delivery to the other deployment's subscriber would take a millisecond or two.
      await sleep(300);
    } finally {
      wire.close();
    }
    assert.deepEqual(heard, [], 'no event of deployment one reached deployment two');
    assert.equal(await registry.bySlug('acme'), cached, 'deployment two serves its record from the cache');
    assert.equal(counter.reads, 0, 'and did not read it again');
    assert.equal((await two.api('GET', '/tenants/acme')).body.name, 'Acme');
  });

  it('a tenant moved to the other deployment keeps its id and clients, but its rate-limit counts stay apart', async () => {
    assert.equal((await one.api('POST', '/tenants', { slug: 'moved', name: 'Moved' })).status, 201);
    const client = (await one.api('POST', '/tenants/moved/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] })).body as { client_id: string; client_secret: string };
    const id = await setRateLimits(one, 'moved', { token_per_client: { limit: 2, window_seconds: 3600 } });
    const passphrase = 'correct horse battery staple, moving day';
    const exported = await httpFetch(`${one.baseUrl}/api/v1/tenants/moved/export`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await one.platformToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ passphrase }),
    });
    assert.equal(exported.status, 200);
    const bundle = Buffer.from(await exported.arrayBuffer()).toString('base64');
    const imported = await two.api('POST', '/tenants/import', { bundle, passphrase });
    assert.ok(imported.status < 300, JSON.stringify(imported.body));
    assert.equal((await two.api('GET', '/tenants/moved')).body.id, id, 'the same tenant id in both deployments');
    const authorization = basic(client.client_id, client.client_secret);
    for (const n of [1, 2]) assert.equal((await tokenRequest(one.issuer('moved'), { authorization })).status, 200, `token ${n} in deployment one`);
    assert.equal((await tokenRequest(one.issuer('moved'), { authorization })).status, 429, 'the third is over the limit in deployment one');
    const other = await tokenRequest(two.issuer('moved'), { authorization });
    assert.equal(other.status, 200, `deployment two counts its own requests: ${other.text}`);
  });
});

describe('two instances of one deployment on that Redis', { skip: redisServerMissing() ?? (testServerUrl() ? false : 'needs DATABASE_URL: two instances share one database') }, () => {
  let redis: PrivateRedis;
  let database: { url: string; drop: () => Promise<void> };
  let a: TestAtrium;
  let b: TestAtrium;

  before(async () => {
    redis = await PrivateRedis.start();
    database = await createTestDatabase(testServerUrl()!);
    // One deployment: one database and one master key.
    const env = { REDIS_URL: redis.url, ENCRYPTION_KEY: randomBytes(32).toString('base64') };
    a = await startTestAtrium(env, { databaseUrl: database.url });
    b = await startTestAtrium(env, { databaseUrl: database.url });
    assert.equal((await a.api('POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await database?.drop();
    await redis?.kill();
  });

  it("hear each other's events and drop the changed tenant at once", async () => {
    const cached = await b.atrium.services.registry.bySlug('acme');
    assert.ok(cached);
    const heard: AtriumEvent[] = [];
    b.atrium.services.bus.subscribe((event) => heard.push(event));
    assert.equal((await a.api('PATCH', '/tenants/acme', { name: 'Acme Renamed' })).status, 200);
    await until('B hearing the change', () => heard.some((e) => e.type === 'tenant.changed' && e.tenantId === cached.id));
    assert.equal((await b.atrium.services.registry.bySlug('acme'))?.name, 'Acme Renamed');
  });
});
