import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { ProviderPool } from './provider-pool.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { BUILT_IN_POLICY } from '../config/platform-policy.ts';
import { loadConfig } from '../config/env.ts';

const tenant = (id: string, version = 1, policy = 0) => ({ id, slug: id, version, policy: { ...BUILT_IN_POLICY, version: policy } }) as Tenant;

function countingBuilder(delayMs = 5) {
  const builds: string[] = [];
  const build = async (t: Tenant) => {
    builds.push(`${t.id}@${t.version}`);
    await sleep(delayMs);
    return { tenant: t } as unknown as ProviderRuntime;
  };
  return { builds, build };
}

describe('ProviderPool', () => {
  it('rebuilds a runtime when the record was read under a newer operator policy, and not for an older one', async () => {
    const { builds, build } = countingBuilder(1);
    const pool = new ProviderPool({ maxSize: 10, idleTtlMs: 60_000, cleanupIntervalMs: 60_000 }, build);
    await pool.get(tenant('a', 1, 1));
    await pool.get(tenant('a', 1, 2));
    await pool.get(tenant('a', 1, 1));
    assert.deepEqual(builds, ['a@1', 'a@1']);
    pool.close();
  });

  it('builds one runtime for concurrent first requests of a tenant', async () => {
    const { builds, build } = countingBuilder();
    const pool = new ProviderPool({ maxSize: 10, idleTtlMs: 60_000, cleanupIntervalMs: 60_000 }, build);
    const results = await Promise.all(Array.from({ length: 20 }, () => pool.get(tenant('a'))));
    assert.equal(builds.length, 1);
    assert.ok(results.every((r) => r === results[0]));
    pool.close();
  });

  it('evicts the least recently used runtime when full', async () => {
    const { builds, build } = countingBuilder(0);
    const pool = new ProviderPool({ maxSize: 2, idleTtlMs: 60_000, cleanupIntervalMs: 60_000 }, build);
    await pool.get(tenant('a'));
    await pool.get(tenant('b'));
    await pool.get(tenant('a')); // a is now most recent
    await pool.get(tenant('c')); // evicts b
    assert.equal(pool.size, 2);
    await pool.get(tenant('a'));
    assert.equal(builds.filter((b) => b.startsWith('a')).length, 1, 'a stayed pooled');
    await pool.get(tenant('b'));
    assert.equal(builds.filter((b) => b.startsWith('b')).length, 2, 'b was evicted and rebuilt');
    assert.ok(pool.stats.evictions >= 1);
    pool.close();
  });

  it('holds as many runtimes as MULTI_TENANCY_TENANT_MEMORY_MB allows, and no more', async () => {
    const { builds, build } = countingBuilder(0);
    const { pool: sizing } = loadConfig({ MULTI_TENANCY_TENANT_MEMORY_MB: '3' }).multiTenancy;
    assert.equal(sizing.maxSize, 21, '3 MB at 144 KiB a tenant');
    const pool = new ProviderPool(sizing, build);
    for (let i = 0; i < 40; i++) await pool.get(tenant(`t${i}`));
    assert.equal(pool.size, 21);
    assert.equal(pool.stats.evictions, 19);
    // The 21 most recent are still pooled; the first ones were evicted.
    for (let i = 19; i < 40; i++) await pool.get(tenant(`t${i}`));
    assert.equal(builds.length, 40, 'no rebuild for tenants within the budget');
    await pool.get(tenant('t0'));
    assert.equal(builds.length, 41, 'a tenant beyond it is rebuilt');
    pool.close();
  });

  it('sweeps runtimes idle longer than the TTL on the cleanup interval', async () => {
    const { build } = countingBuilder(0);
    const pool = new ProviderPool({ maxSize: 10, idleTtlMs: 30, cleanupIntervalMs: 10 }, build);
    await pool.get(tenant('a'));
    assert.equal(pool.size, 1);
    await sleep(80);
    assert.equal(pool.size, 0);
    pool.close();
  });

  it('rebuilds when the tenant record is newer than the pooled runtime', async () => {
    const { builds, build } = countingBuilder(0);
    const pool = new ProviderPool({ maxSize: 10, idleTtlMs: 60_000, cleanupIntervalMs: 60_000 }, build);
    const old = await pool.get(tenant('a', 1));
    const fresh = await pool.get(tenant('a', 2));
    assert.notEqual(old, fresh);
    assert.deepEqual(builds, ['a@1', 'a@2']);
    assert.equal(await pool.get(tenant('a', 2)), fresh);
    pool.close();
  });

  it('drops a failed build so the next request tries again', async () => {
    let fail = true;
    const pool = new ProviderPool({ maxSize: 10, idleTtlMs: 60_000, cleanupIntervalMs: 60_000 }, async (t) => {
      if (fail) throw new Error('database down');
      return { tenant: t } as unknown as ProviderRuntime;
    });
    await assert.rejects(pool.get(tenant('a')), /database down/);
    fail = false;
    assert.ok(await pool.get(tenant('a')));
    pool.close();
  });
});
