/**
 * The pool of per-tenant runtimes (Provider + keys + config), least recently used first out,
 * idle ones swept after a TTL. The pool caches the *promise* of a build, so concurrent first
 * requests share one build; a failed build is dropped so the next request tries again.
 * A runtime older than its tenant's version is rebuilt; requests already holding the old
 * runtime finish on it (nothing is torn down: it is simply no longer handed out).
 */
import { LRUCache } from 'lru-cache';
import type { Tenant } from '../tenancy/tenant.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';

export interface PoolOptions {
  maxSize: number;
  idleTtlMs: number;
  cleanupIntervalMs: number;
}

export interface PoolStats {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
  builds: number;
  buildMs: number[];
}

interface Slot {
  version: number;
  /** The operator policy version of the record it was built from. */
  policy: number;
  runtime: Promise<ProviderRuntime>;
}

export class ProviderPool {
  readonly #cache: LRUCache<string, Slot>;
  readonly #build: (tenant: Tenant) => Promise<ProviderRuntime>;
  readonly #timer: NodeJS.Timeout;
  readonly stats: PoolStats = { size: 0, hits: 0, misses: 0, evictions: 0, builds: 0, buildMs: [] };

  constructor(options: PoolOptions, build: (tenant: Tenant) => Promise<ProviderRuntime>) {
    this.#build = build;
    this.#cache = new LRUCache<string, Slot>({
      max: options.maxSize,
      ttl: options.idleTtlMs,
      updateAgeOnGet: true,
      // Expired entries are removed by the sweep below, not on read, so the sweep period is honoured.
      allowStale: false,
      dispose: (_slot, _key, reason) => {
        if (reason === 'evict' || reason === 'expire') this.stats.evictions++;
      },
    });
    this.#timer = setInterval(() => this.#cache.purgeStale(), options.cleanupIntervalMs);
    this.#timer.unref();
  }

  /** The runtime for this tenant record, built if absent or older than the record. */
  get(tenant: Tenant): Promise<ProviderRuntime> {
    const slot = this.#cache.get(tenant.id);
    // A record read under a newer operator policy (token lifetimes, ...) needs a new Provider too.
    if (slot && slot.version >= tenant.version && slot.policy >= tenant.policy.version) {
      this.stats.hits++;
      return slot.runtime;
    }
    this.stats.misses++;
    const started = performance.now();
    const runtime = this.#build(tenant);
    const fresh: Slot = { version: tenant.version, policy: tenant.policy.version, runtime };
    this.#cache.set(tenant.id, fresh);
    runtime.then(
      () => {
        this.stats.builds++;
        this.stats.buildMs.push(performance.now() - started);
        if (this.stats.buildMs.length > 1000) this.stats.buildMs.shift();
      },
      () => {
        if (this.#cache.peek(tenant.id) === fresh) this.#cache.delete(tenant.id);
      },
    );
    return runtime;
  }

  /** Drops a tenant's runtime; the next request builds a fresh one. */
  invalidate(tenantId: string): void {
    this.#cache.delete(tenantId);
  }

  get size(): number {
    return this.#cache.size;
  }

  close(): void {
    clearInterval(this.#timer);
    this.#cache.clear();
  }
}
