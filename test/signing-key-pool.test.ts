/**
 * Signing keys generated ahead of time (issue 15, item 5: tenant creation under 20 ms):
 * the pool holds SIGNING_KEY_POOL_SIZE pairs, refills after each take, never hands one pair
 * to two tenants, falls back to generating inline when empty, and keeps its unsealed private
 * keys out of the database and the logs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { SigningKeyPool } from '../src/oidc/signing-key-pool.ts';
import { SigningKeyStore, type GeneratedKey } from '../src/oidc/signing-keys.ts';
import { configProblems } from '../src/config/env.ts';
import { runAsTenant } from '../src/core/request-context.ts';

const silent = pino({ level: 'silent' });
// generatePair touches neither the database nor the box.
const generatePair = () => new SigningKeyStore(undefined as never, undefined as never).generatePair();
const kidsOf = (pairs: GeneratedKey[][]) => pairs.flatMap((p) => p.map((k) => k.kid));

describe('SigningKeyPool', () => {
  it('fills to its size, hands each pair out once (even to takes at the same moment), and refills', async () => {
    const pool = new SigningKeyPool(3, generatePair, silent).start();
    await pool.filled();
    assert.equal(pool.stats.available, 3);
    // Five at once from three ready: three from the pool, two generated inline.
    const first = await Promise.all(Array.from({ length: 5 }, () => pool.take()));
    assert.deepEqual({ hits: pool.stats.hits, misses: pool.stats.misses }, { hits: 3, misses: 2 });
    await pool.filled();
    assert.equal(pool.stats.available, 3, 'refilled after the takes');
    const second = await Promise.all(Array.from({ length: 3 }, () => pool.take()));
    const kids = kidsOf([...first, ...second]);
    assert.equal(kids.length, 16);
    assert.equal(new Set(kids).size, kids.length, 'no key handed out twice');
    for (const pair of [...first, ...second]) assert.deepEqual(pair.map((k) => k.publicJwk.alg), ['RS256', 'ES256']);
    await pool.close();
  });

  it('size 0 holds nothing: every take generates its own pair', async () => {
    const pool = new SigningKeyPool(0, generatePair, silent).start();
    await pool.filled();
    const pairs = await Promise.all([pool.take(), pool.take()]);
    assert.deepEqual(pool.stats, { available: 0, size: 0, hits: 0, misses: 2 });
    assert.equal(new Set(kidsOf(pairs)).size, 4);
  });

  it('a failed generation in the background is logged without any key and the next take still gets a pair', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    let failNext = true;
    const pool = new SigningKeyPool(2, () => (failNext ? ((failNext = false), Promise.reject(new Error('threadpool exhausted'))) : generatePair()), log).start();
    await pool.filled();
    assert.equal(pool.stats.available, 0);
    assert.match(lines.join(''), /signing key pool: generation failed/);
    const pair = await pool.take();
    assert.equal(pair.length, 2);
    await pool.filled();
    assert.equal(pool.stats.available, 2, 'the take started the refill again');
    await pool.close();
  });

  it('close drops the pairs held and stops refilling', async () => {
    const pool = new SigningKeyPool(2, generatePair, silent).start();
    await pool.filled();
    await pool.close();
    assert.equal(pool.stats.available, 0);
    await pool.take();
    await pool.filled();
    assert.equal(pool.stats.available, 0);
  });
});

describe('SIGNING_KEY_POOL_SIZE', () => {
  it('must be a whole number from 0 to 1000 (a 400-style problem naming it otherwise)', () => {
    for (const bad of ['-1', '1001', 'many', '2.5']) {
      assert.ok(configProblems({ SIGNING_KEY_POOL_SIZE: bad }).some((p) => p.startsWith('SIGNING_KEY_POOL_SIZE:')), bad);
    }
    assert.deepEqual(configProblems({ SIGNING_KEY_POOL_SIZE: '0' }), []);
  });
});

describe('tenant creation with the key pool', () => {
  let t: TestAtrium;
  let lines = '';
  before(async () => {
    const sink = new Writable({ write: (chunk: Buffer, _e, done) => ((lines += chunk.toString()), done()) });
    t = await startTestAtrium({ SIGNING_KEY_POOL_SIZE: '3', LOG_LEVEL: 'trace' }, { logStream: sink });
  });
  after(() => t?.stop());

  const rowsOfKid = () =>
    t.atrium.services.db.crossTenant('test: kids shared between tenants', async (q) =>
      (await q.query<{ kid: string; n: string }>('SELECT kid, count(DISTINCT tenant_id) AS n FROM signing_keys GROUP BY kid HAVING count(DISTINCT tenant_id) > 1')).rows,
    );

  it('takes pooled pairs, refills to SIGNING_KEY_POOL_SIZE, and gives no two tenants a key in common', async () => {
    const { keyPool, metrics } = t.atrium.services;
    await keyPool.filled();
    assert.equal(keyPool.stats.available, 3);
    const before = keyPool.stats;
    // More at once than the pool holds: the rest generate inline (or take a pair the refill
    // finished meanwhile).
    const created = await Promise.all(Array.from({ length: 6 }, (_, i) => t.api('POST', '/tenants', { slug: `pooled-${i}`, name: `Pooled ${i}` })));
    for (const res of created) assert.equal(res.status, 201, JSON.stringify(res.body));
    const hits = keyPool.stats.hits - before.hits;
    assert.ok(hits >= 3, `${hits} creations took a pooled pair`);
    assert.equal(hits + keyPool.stats.misses - before.misses, 6);
    assert.deepEqual(await rowsOfKid(), []);
    await keyPool.filled();
    assert.equal(keyPool.stats.available, 3);
    const exposition = await metrics.registry.metrics();
    assert.match(exposition, /^atrium_signing_key_pool_available 3$/m);
    assert.match(exposition, new RegExp(`^atrium_signing_key_pool_hits_total ${keyPool.stats.hits}$`, 'm'));
  });

  it('writes pooled private keys only sealed, and never logs them', async () => {
    assert.equal((await t.api('POST', '/tenants', { slug: 'sealed', name: 'Sealed' })).status, 201);
    const { registry, keys, db } = t.atrium.services;
    const tenant = (await registry.bySlug('sealed'))!;
    const jwks = await runAsTenant(tenant.id, () => keys.loadProviderJwks(tenant.id));
    const secrets = jwks.keys.map((k) => k.d!);
    assert.equal(secrets.length, 2);
    const stored = await db.crossTenant('test: stored key rows', async (q) => (await q.query<{ row: string }>('SELECT row_to_json(k)::text AS row FROM signing_keys k')).rows.map((r) => r.row).join('\n'));
    for (const d of secrets) {
      assert.ok(!stored.includes(d), 'a private key part in the database unsealed');
      assert.ok(!lines.includes(d), 'a private key part in the logs');
    }
    assert.ok(lines.includes('tenant created'), 'the log was captured');
  });
});

describe('SIGNING_KEY_POOL_SIZE=0', () => {
  let t: TestAtrium;
  before(async () => (t = await startTestAtrium({ SIGNING_KEY_POOL_SIZE: '0' })));
  after(() => t?.stop());

  it('keeps no pair ahead: each creation generates its own', async () => {
    const { keyPool } = t.atrium.services;
    await keyPool.filled();
    const before = keyPool.stats.misses;
    assert.equal((await t.api('POST', '/tenants', { slug: 'inline', name: 'Inline' })).status, 201);
    assert.deepEqual({ ...keyPool.stats, misses: keyPool.stats.misses - before }, { available: 0, size: 0, hits: 0, misses: 1 });
  });
});
