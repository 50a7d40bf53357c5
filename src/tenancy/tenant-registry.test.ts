import { it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { TenantRegistry } from './tenant-registry.ts';
import { createInProcessBus } from '../events/bus.ts';
import type { Tenant } from './tenant.ts';
import type { TenantStore } from './tenant-store.ts';

const acme = (version: number) => ({ id: 'id-acme', slug: 'acme', version }) as Tenant;

it('a lookup in flight when an event forgets the tenant reads again instead of failing', async () => {
  let version = 1;
  const store = {
    async findBySlug() {
      await sleep(20);
      return acme(version);
    },
  } as unknown as TenantStore;
  const bus = createInProcessBus();
  const registry = new TenantRegistry(store, bus);
  const lookup = registry.bySlug('acme');
  await sleep(5);
  version = 2;
  await bus.publish({ type: 'tenant.changed', tenantId: 'id-acme', slug: 'acme' });
  assert.equal((await lookup)?.version, 2);
});

it('caches found tenants and forgets them on events', async () => {
  let reads = 0;
  const store = { async findBySlug() { reads++; return acme(reads); } } as unknown as TenantStore;
  const bus = createInProcessBus();
  const registry = new TenantRegistry(store, bus);
  await registry.bySlug('acme');
  await registry.bySlug('acme');
  assert.equal(reads, 1);
  await bus.publish({ type: 'keys.rotated', tenantId: 'id-acme', slug: 'acme' });
  assert.equal((await registry.bySlug('acme'))?.version, 2);
});

it('re-validates every cached tenant with one query, dropping only those whose version moved', async () => {
  const versions = new Map(Array.from({ length: 500 }, (_, i) => [`id-${i}`, 1]));
  let reads = 0;
  const queries: number[] = [];
  const store = {
    async findById(id: string) {
      reads++;
      return versions.has(id) ? ({ id, slug: id, version: versions.get(id) } as Tenant) : undefined;
    },
    async versionsOf(ids: string[]) {
      queries.push(ids.length);
      return new Map(ids.filter((id) => versions.has(id)).map((id) => [id, versions.get(id)!]));
    },
  } as unknown as TenantStore;
  const registry = new TenantRegistry(store, createInProcessBus(), { ttlMs: 0 });
  for (const id of versions.keys()) await registry.byId(id);
  assert.equal(reads, 500);
  versions.set('id-7', 2);
  versions.delete('id-9');
  await registry.revalidate();
  assert.deepEqual(queries, [500], 'one query for all 500');
  await Promise.all([...versions.keys(), 'id-9'].map((id) => registry.byId(id)));
  assert.equal(reads, 502, 'only the changed and the deleted tenant are read again');
  assert.equal((await registry.byId('id-7'))?.version, 2);
  assert.equal(await registry.byId('id-9'), undefined);
  registry.close();
});

it('an event drops only its own tenant: a record under the same slug with another id stays', async () => {
  // Events name a tenant by id; a slug is only unique within one deployment's database.
  let reads = 0;
  const store = {
    async findBySlug() { reads++; return acme(1); },
    async findById() { reads++; return acme(1); },
  } as unknown as TenantStore;
  const bus = createInProcessBus();
  const registry = new TenantRegistry(store, bus, { ttlMs: 0 });
  const cached = await registry.bySlug('acme');
  await registry.byId('id-acme');
  assert.equal(reads, 2);
  await bus.publish({ type: 'tenant.changed', tenantId: 'id-other', slug: 'acme' });
  await bus.publish({ type: 'tenant.deleted', tenantId: 'id-other', slug: 'acme', domains: [] });
  assert.equal(await registry.bySlug('acme'), cached, 'the same record, from the cache');
  await registry.byId('id-acme');
  assert.equal(reads, 2, 'nothing read again');
  await bus.publish({ type: 'tenant.changed', tenantId: 'id-acme', slug: 'acme' });
  await registry.bySlug('acme');
  await registry.byId('id-acme');
  assert.equal(reads, 4, 'its own event drops both views');
});

it('an event naming a slug remembered as unknown drops that memory: the tenant may just have been created', async () => {
  let exists = false;
  const store = { async findBySlug() { return exists ? acme(1) : undefined; } } as unknown as TenantStore;
  const bus = createInProcessBus();
  const registry = new TenantRegistry(store, bus, { ttlMs: 0, negativeTtlMs: 60_000 });
  assert.equal(await registry.bySlug('acme'), undefined);
  exists = true;
  await bus.publish({ type: 'tenant.created', tenantId: 'id-acme', slug: 'acme' });
  assert.equal((await registry.bySlug('acme'))?.id, 'id-acme');
});
