/**
 * Tenant records cached in memory, looked up by slug, id or custom domain. Bus events drop
 * entries at once; what repairs an event this instance missed is a re-validation every few
 * seconds that reads the version of every cached tenant in ONE query and drops those that
 * changed or went. It runs on a timer, never inside a request: with 10,000 busy tenants, a
 * refresh per entry would be thousands of queries a second, each charged to some request.
 * Unknown tenants are cached briefly, so a flood of requests for random hosts does not
 * become a flood of queries.
 */
import { LRUCache } from 'lru-cache';
import type { EventBus } from '../events/bus.ts';
import type { Tenant } from './tenant.ts';
import type { TenantStore } from './tenant-store.ts';

interface Entry {
  tenant: Tenant | null;
}

export interface TenantRegistryOptions {
  /** How often cached tenants are re-validated (one query for all of them); 0: never (tests). */
  ttlMs?: number;
  /** How long "no such tenant" is remembered. */
  negativeTtlMs?: number;
  /** Entries kept (a tenant takes one per slug, id and domain it was looked up by); the least recently used go first. */
  max?: number;
}

export class TenantRegistry {
  readonly #store: TenantStore;
  readonly #cache: LRUCache<string, Entry>;
  readonly #negativeTtlMs: number;
  readonly #timer: NodeJS.Timeout | undefined;
  /**
   * The keys each tenant is cached under (slug, id, domains), and the domains cached as
   * unknown: an event then drops its tenant's few entries, instead of walking the whole
   * cache on the event loop (~25 ms at 20,000 entries, stalling every request behind it).
   */
  readonly #keysOf = new Map<string, Set<string>>();
  readonly #unknownDomains = new Set<string>();

  constructor(store: TenantStore, bus: EventBus, options: TenantRegistryOptions = {}) {
    this.#store = store;
    this.#negativeTtlMs = options.negativeTtlMs ?? 2_000;
    this.#cache = new LRUCache<string, Entry>({
      max: options.max ?? 20_000,
      fetchMethod: async (key, _stale, { options: setOptions }) => {
        const tenant = await this.#load(key);
        // Found tenants stay until an event or the re-validation drops them; unknown ones expire.
        setOptions.ttl = tenant ? 0 : this.#negativeTtlMs;
        if (tenant) this.#index(tenant.id, key);
        else if (key.startsWith('domain:')) this.#unknownDomains.add(key);
        return { tenant: tenant ?? null };
      },
      // An entry replaced under the same key ('set') was indexed again by fetchMethod just before.
      dispose: (entry, key, reason) => {
        if (reason === 'set') return;
        if (!entry.tenant) return void this.#unknownDomains.delete(key);
        const keys = this.#keysOf.get(entry.tenant.id);
        keys?.delete(key);
        if (keys?.size === 0) this.#keysOf.delete(entry.tenant.id);
      },
    });
    const every = options.ttlMs ?? 3_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.revalidate().catch(() => undefined), every);
      this.#timer.unref();
    }
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

  /**
   * Drops every cached tenant whose version changed or that no longer exists, from one query.
   * When the database is away the records stay: serving a known tenant beats failing it.
   */
  async revalidate(): Promise<void> {
    const cached = new Map<string, Tenant>();
    for (const entry of this.#cache.values()) if (entry.tenant) cached.set(entry.tenant.id, entry.tenant);
    if (!cached.size) return;
    const versions = await this.#store.versionsOf([...cached.keys()]);
    for (const tenant of cached.values()) if (versions.get(tenant.id) !== tenant.version) this.forget(tenant.id, tenant.slug);
  }

  /** Stops the re-validation timer. */
  close(): void {
    clearInterval(this.#timer);
  }

  /** Drops every record: the operator's policy changed, and each record carries the one it was read under. */
  clear(): void {
    this.#cache.clear();
    this.#keysOf.clear();
    this.#unknownDomains.clear();
  }

  /**
   * Drops every cached view of a tenant (its domains included). The tenant is its id: `slug`
   * only clears that slug remembered as unknown (the tenant may be new) or still being read;
   * a record of another tenant id under it stays.
   */
  forget(tenantId: string, slug: string): void {
    // Every entry of this tenant, and unknown domains (one may be its new domain). A key
    // indexed for this tenant may since hold another's record (a reused slug): that one stays.
    for (const key of [...(this.#keysOf.get(tenantId) ?? [])]) {
      if (this.#cache.peek(key, { allowStale: true })?.tenant?.id === tenantId) this.#cache.delete(key);
    }
    this.#keysOf.delete(tenantId);
    for (const key of [...this.#unknownDomains]) this.#cache.delete(key);
    this.#unknownDomains.clear();
    // peek: undefined while a read is in flight, which is dropped (it may return the old record).
    if (this.#cache.peek(`slug:${slug}`)?.tenant?.id === undefined) this.#cache.delete(`slug:${slug}`);
    this.#cache.delete(`id:${tenantId}`);
  }

  #index(tenantId: string, key: string): void {
    const keys = this.#keysOf.get(tenantId);
    if (keys) keys.add(key);
    else this.#keysOf.set(tenantId, new Set([key]));
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
