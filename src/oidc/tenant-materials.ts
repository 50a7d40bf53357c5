/**
 * What a tenant's Provider is built from (imported signing keys, client metadata), cached
 * by tenant *version*. Providers are rebuilt whenever the pool evicts them; without this
 * every rebuild would read and decrypt the same rows again. Any change of keys or clients
 * bumps the tenant version, so a cached entry can never be served after a change.
 */
import { LRUCache } from 'lru-cache';
import type { TenantMemoryBudget } from '../config/tenant-memory-budget.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { ClientMetadata, ClientStore } from './client-store.ts';
import type { SigningKeyStore } from './signing-keys.ts';
import { TenantSigningKey } from './tenant-signing-key.ts';

export class TenantMaterials {
  readonly #keys: SigningKeyStore;
  readonly #clients: ClientStore;
  readonly #signingKeys: LRUCache<string, Promise<{ keys: TenantSigningKey[] }>>;
  readonly #clientMetadata: LRUCache<string, Promise<ClientMetadata | undefined>>;

  /** Sized from the tenant memory budget (config/tenant-memory-budget.ts): the keys of every resident tenant, a few clients each. */
  constructor(keys: SigningKeyStore, clients: ClientStore, budget: Pick<TenantMemoryBudget, 'tenants' | 'clientRecords'>) {
    this.#keys = keys;
    this.#clients = clients;
    this.#signingKeys = new LRUCache({ max: budget.tenants });
    this.#clientMetadata = new LRUCache({ max: budget.clientRecords });
  }

  /**
   * The signing keys of the tenant in context, at the tenant's current version: decrypted
   * once, imported on first use (tenant-signing-key.ts), shared by every Provider built at
   * this version.
   */
  signingKeys(tenant: Tenant): Promise<{ keys: TenantSigningKey[] }> {
    const load = async () => ({ keys: (await this.#keys.loadProviderJwks(tenant.id)).keys.map((jwk) => new TenantSigningKey(jwk)) });
    return this.#cached(this.#signingKeys, `${tenant.id}:${tenant.version}`, load, () => true);
  }

  /** A client's metadata (secret included) for the tenant in context; unknown ids are not cached. */
  client(tenant: Tenant, clientId: string): Promise<ClientMetadata | undefined> {
    return this.#cached(this.#clientMetadata, `${tenant.id}:${tenant.version}:${clientId}`, () => this.#clients.findForProvider(tenant.id, clientId), (v) => v !== undefined);
  }

  #cached<V>(cache: LRUCache<string, Promise<V>>, key: string, load: () => Promise<V>, keep: (v: V) => boolean): Promise<V> {
    let value = cache.get(key);
    if (!value) {
      const loading = load();
      value = loading;
      cache.set(key, loading);
      loading.then(
        (v) => !keep(v) && cache.get(key) === loading && cache.delete(key),
        () => cache.get(key) === loading && cache.delete(key),
      );
    }
    return value;
  }
}
