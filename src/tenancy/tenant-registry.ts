/**
 * Tenant records cached in memory, looked up by slug, id or custom domain. Entries live a
 * few seconds and are dropped at once by bus events; the short life is what repairs an
 * event this instance missed. Unknown tenants are cached briefly too, so a flood of
 * requests for random hosts does not become a flood of queries.
 */
import { LRUCache } from 'lru-cache';
import type { EventBus } from '../events/bus.ts';
import type { Tenant } from './tenant.ts';
import type { TenantStore } from './tenant-store.ts';

interface Entry {
  tenant: Tenant | null;
}

export interface TenantRegistryOptions {
  /** How long a found tenant is trusted before it is read again. */
  ttlMs?: number;
  /** How long "no such tenant" is remembered. */
  negativeTtlMs?: number;
  max?: number;
}

export class TenantRegistry {
  readonly #store: TenantStore;
  readonly #cache: LRUCache<string, Entry>;
  readonly #negativeTtlMs: number;

  constructor(store: TenantStore, bus: EventBus, options: TenantRegistryOptions = {}) {
    this.#store = store;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#cache = new LRUCache<string, Entry>({
      max: options.max ?? 20_000,
      ttl: options.ttlMs ?? 3_000,
      // A request never waits for a periodic refresh: it gets the cached record while the
      // refresh runs. Events still delete entries at once, so changes are not delayed.
      allowStale: true,
      // A failed refresh keeps the old entry: see #get.
      noDeleteOnFetchRejection: true,
      fetchMethod: async (key, _stale, { options: setOptions }) => {
        const tenant = await this.#load(key);
        if (!tenant) setOptions.ttl = this.#negativeTtlMs;
        return { tenant: tenant ?? null };
      },
    });
    bus.subscribe((event) => {
      // A policy change concerns every tenant; the platform configuration clears this cache once it has the new policy (clear()).
      if (event.type === 'platform.changed') return;
      if (event.type === 'tenant.deleted') for (const d of event.domains) this.#cache.delete(`domain:${d}`);
      this.forget(event.tenantId, event.slug);
    });
  }

  async bySlug(slug: string): Promise<Tenant | undefined> {
    return this.#get(`slug:${slug}`);
  }

  async byId(id: string): Promise<Tenant | undefined> {
    return this.#get(`id:${id}`);
  }

  async byDomain(domain: string): Promise<Tenant | undefined> {
    return this.#get(`domain:${domain}`);
  }

  /** Drops every record: the operator's policy changed, and each record carries the one it was read under. */
  clear(): void {
    this.#cache.clear();
  }

  /** Drops every cached view of a tenant (its domains included). */
  forget(tenantId: string, slug: string): void {
    // One pass: every entry of this tenant, and unknown domains (one may be its new domain).
    for (const [key, entry] of this.#cache.entries()) {
      if (entry.tenant ? entry.tenant.id === tenantId : key.startsWith('domain:')) this.#cache.delete(key);
    }
    this.#cache.delete(`slug:${slug}`);
    this.#cache.delete(`id:${tenantId}`);
  }

  async #get(key: string): Promise<Tenant | undefined> {
    // An event arriving while a lookup is in flight deletes the key, which aborts that
    // fetch; the lookup then simply reads again, and so sees the change.
    for (let attempt = 1; ; attempt++) {
      try {
        const entry = await this.#cache.fetch(key);
        return entry?.tenant ?? undefined;
      } catch (err) {
        if (isFetchAbort(err) && attempt < 3) continue;
        // The database is unreachable: keep serving a tenant already known rather than
        // failing every request; an unknown one is an outage (503), never "no such tenant".
        const known = this.#cache.peek(key, { allowStale: true });
        if (known) return known.tenant ?? undefined;
        throw err;
      }
    }
  }

  #load(key: string): Promise<Tenant | undefined> {
    const [kind, value] = [key.slice(0, key.indexOf(':')), key.slice(key.indexOf(':') + 1)];
    if (kind === 'slug') return this.#store.findBySlug(value);
    if (kind === 'id') return this.#store.findById(value);
    return this.#store.findByDomain(value);
  }
}

function isFetchAbort(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.message === 'deleted' || err.message === 'evicted' || err.message === 'set');
}
