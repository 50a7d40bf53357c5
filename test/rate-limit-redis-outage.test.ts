/**
 * Redis going away never fails a request: with its private redis-server killed, an
 * instance goes on signing users in and issuing tokens, holding the limits in its own
 * memory; once Redis is back, counting returns to Redis.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { basic, setRateLimits, tokenRequest } from './support/rate-limit-helpers.ts';
import { PrivateRedis, redisServerMissing } from './support/faults.ts';

const SKIP = redisServerMissing();

let redis: PrivateRedis;
let t: TestAtrium;
let acme: TenantFixture;
let tenantId: string;
/** A second machine client, first used once Redis is back. */
let later: { id: string; secret: string };

before(async () => {
  if (SKIP) return;
  redis = await PrivateRedis.start();
  t = await startTestAtrium({ REDIS_URL: redis.url });
  acme = await createTenantFixture(t, 'acme');
  const created = await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  assert.equal(created.status, 201);
  later = { id: created.body.client_id, secret: created.body.client_secret };
  tenantId = await setRateLimits(t, 'acme', { token_per_client: { limit: 4, window_seconds: 3600 } });
});
after(async () => {
  await t?.stop();
  await redis?.kill();
});

/** The token_per_client counters of the tenant in Redis: key → count in the current window. */
async function clientCounters(): Promise<number[]> {
  return redis.inspect(async (client: Redis) => {
    const keys = await client.keys(`atrium:{${tenantId}}:rl:token_per_client:*`);
    return Promise.all(keys.map(async (k) => Number(await client.hget(k, 'c'))));
  });
}

async function signIn(): Promise<void> {
  const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: 'outage-test' });
  const { callback } = await signInThroughPages(url, acme);
  assert.ok(callback.searchParams.get('code'), 'signed in: the redirect carries a code');
}

const tokenFor = (clientId: string, secret: string) => tokenRequest(acme.issuer, { authorization: basic(clientId, secret) });

it('signs in and issues tokens while Redis is down, with local limits, and counts in Redis again once it is back', async (ctx) => {
  if (SKIP) return ctx.skip(SKIP);

  // Redis up: counted there.
  for (let i = 0; i < 2; i++) assert.equal((await tokenFor(acme.m2mClientId, acme.m2mClientSecret)).status, 200);
  assert.deepEqual(await clientCounters(), [2]);

  await redis.kill();
  // Sign-in and token requests go on; the limit now holds in this instance's memory
  // (which has not seen the two requests Redis counted).
  await signIn();
  for (let i = 0; i < 4; i++) {
    const res = await tokenFor(acme.m2mClientId, acme.m2mClientSecret);
    assert.equal(res.status, 200, `request ${i + 1} with Redis down: ${res.text}`);
  }
  const refused = await tokenFor(acme.m2mClientId, acme.m2mClientSecret);
  assert.equal(refused.status, 429, 'the local limit still applies');
  assert.equal(refused.json.error, 'rate_limited');

  await redis.restart();
  // ioredis reconnects on its own (backoff up to 2 s): wait until the limiter counts in Redis again.
  const probe = { name: 'probe', limit: 1_000_000, windowSeconds: 60 };
  const started = Date.now();
  while ((await redis.inspect((c) => c.keys(`atrium:{${tenantId}}:rl:probe:*`))).length === 0) {
    assert.ok(Date.now() - started < 10_000, 'the limiter did not return to Redis within 10 s');
    await t.atrium.services.rateLimiter.consume({ tenantId, subject: 'probe' }, probe);
    await new Promise((r) => setTimeout(r, 100));
  }

  await signIn();
  for (let i = 0; i < 4; i++) assert.equal((await tokenFor(later.id, later.secret)).status, 200, `request ${i + 1} after Redis returned`);
  assert.deepEqual(await clientCounters(), [4], 'the new client is counted in Redis');
  assert.equal((await tokenFor(later.id, later.secret)).status, 429, 'and refused past its limit');
});
