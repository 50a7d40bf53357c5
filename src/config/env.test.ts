import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { configProblems, loadConfig } from './env.ts';

const KEY = Buffer.alloc(32, 7).toString('base64');

const problems = configProblems;

describe('configuration', () => {
  it('has working defaults for a newcomer', () => {
    const config = loadConfig({});
    assert.equal(config.env, 'development');
    assert.equal(config.port, 3000);
    assert.equal(config.publicUrl.origin, 'http://localhost:3000');
    assert.equal(config.databaseUrl, undefined);
    assert.equal(config.multiTenancy.enabled, false);
    assert.deepEqual(config.multiTenancy.extractionPriority, ['header', 'subdomain']);
    // The tenant memory budget (1536 MB at 144 KiB a tenant) sizes the pool: no small count.
    assert.equal(config.multiTenancy.budget.memoryMb, 1536);
    assert.equal(config.multiTenancy.pool.maxSize, 10_922);
    assert.equal(config.multiTenancy.pool.idleTtlMs, 1_800_000);
    assert.equal(config.multiTenancy.pool.cleanupIntervalMs, 60_000);
    assert.ok(Object.isFrozen(config));
  });

  it('derives the default PUBLIC_URL from PORT', () => {
    assert.equal(loadConfig({ PORT: '3500' }).publicUrl.origin, 'http://localhost:3500');
    assert.equal(loadConfig({ PORT: '3500', PUBLIC_URL: 'https://auth.example.com' }).publicUrl.origin, 'https://auth.example.com');
  });

  it('reports every problem at once, one message each', () => {
    const found = problems({ PORT: 'eighty', ATRIUM_ENV: 'prod', MULTI_TENANCY_ENABLED: 'maybe', ENCRYPTION_KEY: 'short' });
    assert.equal(found.length, 4, found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('PORT:')));
    assert.ok(found.some((p) => p.startsWith('ATRIUM_ENV:')));
    assert.ok(found.some((p) => p.startsWith('MULTI_TENANCY_ENABLED:')));
    assert.ok(found.some((p) => p.startsWith('ENCRYPTION_KEY:')));
  });

  it('production refuses http PUBLIC_URL, a missing ENCRYPTION_KEY and a missing DATABASE_URL', () => {
    const found = problems({ ATRIUM_ENV: 'production', PUBLIC_URL: 'http://auth.example.com' });
    assert.ok(found.some((p) => p.startsWith('PUBLIC_URL:')), found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('ENCRYPTION_KEY:')));
    assert.ok(found.some((p) => p.startsWith('DATABASE_URL:')));
  });

  it('production accepts https, and http only on localhost', () => {
    const base = { ATRIUM_ENV: 'production', ENCRYPTION_KEY: KEY, DATABASE_URL: 'postgres://db/atrium' };
    assert.deepEqual(problems({ ...base, PUBLIC_URL: 'https://auth.example.com' }), []);
    assert.deepEqual(problems({ ...base, PUBLIC_URL: 'http://localhost:3000' }), []);
  });

  it('staging refuses http on a public host', () => {
    assert.ok(problems({ ATRIUM_ENV: 'staging', PUBLIC_URL: 'http://auth.example.com' }).some((p) => p.startsWith('PUBLIC_URL:')));
  });

  it('rejects a PUBLIC_URL with a path and half-set bootstrap credentials', () => {
    const found = problems({ PUBLIC_URL: 'https://auth.example.com/idp', ATRIUM_BOOTSTRAP_CLIENT_ID: 'ops-client' });
    assert.ok(found.some((p) => p.startsWith('PUBLIC_URL:')));
    assert.ok(found.some((p) => p.includes('ATRIUM_BOOTSTRAP_CLIENT_ID')));
  });

  it('parses the tenancy settings', () => {
    const config = loadConfig({
      MULTI_TENANCY_ENABLED: 'true',
      MULTI_TENANCY_EXTRACTION_PRIORITY: 'subdomain, header',
      MULTI_TENANCY_TENANT_HEADER: 'X-Org',
      MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: '7',
    });
    assert.equal(config.multiTenancy.enabled, true);
    assert.deepEqual(config.multiTenancy.extractionPriority, ['subdomain', 'header']);
    assert.equal(config.multiTenancy.tenantHeader, 'x-org');
    assert.equal(config.multiTenancy.pool.maxSize, 7);
    assert.ok(problems({ MULTI_TENANCY_EXTRACTION_PRIORITY: 'cookie' }).length === 1);
  });

  it('MULTI_TENANCY_TENANT_MEMORY_MB sizes the Provider pool and the per-tenant caches; MAX_SIZE only caps the pool below it', () => {
    const small = loadConfig({ MULTI_TENANCY_TENANT_MEMORY_MB: '8' });
    assert.deepEqual({ ...small.multiTenancy.budget }, { memoryMb: 8, tenants: 56, documentBytes: 56 * 8192, clientRecords: 224 });
    assert.equal(small.multiTenancy.pool.maxSize, 56);
    const big = loadConfig({ MULTI_TENANCY_TENANT_MEMORY_MB: '2048' });
    assert.equal(big.multiTenancy.pool.maxSize, 14_563);
    assert.equal(loadConfig({ MULTI_TENANCY_TENANT_MEMORY_MB: '8', MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: '20' }).multiTenancy.pool.maxSize, 20);
    assert.equal(loadConfig({ MULTI_TENANCY_TENANT_MEMORY_MB: '8', MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: '5000' }).multiTenancy.pool.maxSize, 56, 'the budget wins over a larger cap');
    for (const bad of ['0', '-1', 'lots', '1.5', '300000']) {
      assert.deepEqual(problems({ MULTI_TENANCY_TENANT_MEMORY_MB: bad }).map((p) => p.split(':')[0]), ['MULTI_TENANCY_TENANT_MEMORY_MB'], bad);
    }
  });

  it('DATABASE_PREPARED_STATEMENTS: on by default, off with false, and refused without a PostgreSQL server to apply to', () => {
    const url = 'postgres://postgres@127.0.0.1:5432/atrium';
    assert.equal(loadConfig({ DATABASE_URL: url }).databasePreparedStatements, true);
    assert.equal(loadConfig({ DATABASE_URL: url, DATABASE_PREPARED_STATEMENTS: 'false' }).databasePreparedStatements, false);
    assert.deepEqual(problems({ DATABASE_PREPARED_STATEMENTS: 'false' }), ['DATABASE_PREPARED_STATEMENTS: applies to a PostgreSQL server only (set DATABASE_URL)']);
    assert.equal(problems({ DATABASE_URL: url, DATABASE_PREPARED_STATEMENTS: 'sometimes' }).length, 1);
  });

  it('TRUST_PROXY: false, true (one private hop), a hop count or a CIDR list; anything else is refused', () => {
    assert.deepEqual(loadConfig({}).trustProxy, { hops: 0, proxies: undefined });
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, { hops: 0, proxies: undefined });
    assert.deepEqual(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, { hops: 1, proxies: ['loopback', 'linklocal', 'uniquelocal'] });
    assert.deepEqual(loadConfig({ TRUST_PROXY: '2' }).trustProxy, { hops: 2, proxies: undefined });
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.0/8, 192.0.2.7' }).trustProxy, { hops: Number.POSITIVE_INFINITY, proxies: ['10.0.0.0/8', '192.0.2.7'] });
    for (const bad of ['maybe', '10.0.0.0/99', '11', ',']) {
      assert.ok(problems({ TRUST_PROXY: bad }).some((p) => p.startsWith('TRUST_PROXY:')), bad);
    }
  });
});
