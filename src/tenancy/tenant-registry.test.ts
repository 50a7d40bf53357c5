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
