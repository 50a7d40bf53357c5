import { it } from 'node:test';
import assert from 'node:assert/strict';
import { TenantRegistry } from './tenant-registry.ts';
import { createInProcessBus } from '../events/bus.ts';
import type { Tenant } from './tenant.ts';
import type { TenantStore } from './tenant-store.ts';

const acme = (version: number) => ({ id: 'id-acme', slug: 'acme', version }) as Tenant;

it('a lookup in flight when an event forgets the tenant reads again instead of failing', async () => {
  // The read is held open by the test, not by a timer, so a loaded machine cannot reorder it.
  let version = 1;
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const reading = new Promise<void>((resolve) => (started = resolve));
  const store = {
    async findBySlug() {
      const seen = version;
      started();
      await released;
      return acme(seen);
    },
  } as unknown as TenantStore;
  const bus = createInProcessBus();
  const registry = new TenantRegistry(store, bus, { ttlMs: 0 });
  const lookup = registry.bySlug('acme');
  await reading;
  version = 2;
  await bus.publish({ type: 'tenant.changed', tenantId: 'id-acme', slug: 'acme' });
  release();
  assert.equal((await lookup)?.version, 2, 'the record read before the event is not served');
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

it("an event's cost does not grow with the number of cached tenants", async () => {
  // Every tenant change reaches every instance, and was handled on the event loop by a walk
  // over the whole cache: at 10,000 busy tenants, ~25 ms of every request behind it stalled.
  const store = { async findBySlug(slug: string) { return { id: `id-${slug}`, slug, version: 1 } as Tenant; } } as unknown as TenantStore;
  const perEvent = async (cached: number) => {
    const bus = createInProcessBus();
    const registry = new TenantRegistry(store, bus, { ttlMs: 0 });
    await Promise.all(Array.from({ length: cached }, (_, i) => registry.bySlug(`t${i}`)));
    const start = process.hrtime.bigint();
    for (let i = 0; i < 200; i++) await bus.publish({ type: 'tenant.changed', tenantId: `id-t${i % 10}`, slug: `t${i % 10}` });
    return Number(process.hrtime.bigint() - start) / 200;
  };
  const seen: string[] = [];
  // Measured again rather than with a wider bound: a burst of other work can tilt one pair.
  for (let attempt = 1; attempt <= 3; attempt++) {
    const [few, many] = [await perEvent(10), await perEvent(10_000)];
    if (many < few * 5) return;
    seen.push(`${(few / 1000).toFixed(1)} µs vs ${(many / 1000).toFixed(1)} µs`);
  }
  assert.fail(`an event with 10,000 tenants cached costs more than 5x one with 10, in every measurement: ${seen.join('; ')}`);
});
