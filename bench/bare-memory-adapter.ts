/**
 * The bare baseline's storage: oidc-provider's adapter interface in process memory, every
 * operation O(1). oidc-provider's own MemoryAdapter is not used because its grant index
 * makes each save cost O(tokens of the grant): on every upsert it walks the grant's member
 * map and spreads all its expiry times into Math.max. A refresh chain adds one member per
 * grant (consumed tokens stay members until they expire, 14 days here), so the bare side
 * slowed down the longer a run lasted (1,430/s in the first round of F5, 750/s in the fifth)
 * and the ratio against it rose with the round count. This one keeps the grant index as a
 * set, so the baseline is the same in every round.
 *
 * Bounded like the default (an LRU; entries also expire with their TTL), large enough that
 * nothing a figure still uses is evicted.
 */
import { LRUCache } from 'lru-cache';
import type { Adapter, AdapterPayload } from 'oidc-provider';

const MAX_ENTRIES = 20_000;
const GRANTABLE = new Set(['AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest', 'PreAuthorizedCode']);

type Entry = AdapterPayload | string;

/** One store per adapter factory: a Provider's models share it, as with the default adapter. */
export function bareMemoryAdapter(): new (model: string) => Adapter {
  /** Keys (`model:id`) of every stored token of a grant, for revokeByGrantId. */
  const grants = new Map<string, Set<string>>();
  const unindex = (key: string, value: Entry) => {
    const grantId = typeof value === 'object' ? value.grantId : undefined;
    if (!grantId) return;
    const members = grants.get(grantId);
    members?.delete(key);
    if (members?.size === 0) grants.delete(grantId);
  };
  const store = new LRUCache<string, Entry>({ max: MAX_ENTRIES, dispose: (value, key) => unindex(key, value) });
  const ttl = (expiresIn?: number) => (expiresIn ? { ttl: expiresIn * 1000 } : undefined);

  return class BareMemoryAdapter implements Adapter {
    readonly #model: string;
    constructor(model: string) {
      this.#model = model;
    }

    #key(id: string): string {
      return `${this.#model}:${id}`;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      const key = this.#key(id);
      store.set(key, payload, ttl(expiresIn));
      if (GRANTABLE.has(this.#model) && payload.grantId) {
        const members = grants.get(payload.grantId) ?? new Set<string>();
        members.add(key);
        grants.set(payload.grantId, members);
      }
      if (this.#model === 'Session' && payload.uid) store.set(`sessionUid:${payload.uid}`, id, ttl(expiresIn));
      if (payload.userCode) store.set(`userCode:${payload.userCode}`, id, ttl(expiresIn));
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const found = store.get(this.#key(id));
      return typeof found === 'object' ? found : undefined;
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const id = store.get(`sessionUid:${uid}`);
      return typeof id === 'string' ? this.find(id) : undefined;
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const id = store.get(`userCode:${userCode}`);
      return typeof id === 'string' ? this.find(id) : undefined;
    }

    async consume(id: string): Promise<void> {
      const found = store.get(this.#key(id));
      if (typeof found === 'object') found.consumed = Math.floor(Date.now() / 1000);
    }

    async destroy(id: string): Promise<void> {
      store.delete(this.#key(id));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      for (const key of [...(grants.get(grantId) ?? [])]) store.delete(key);
      grants.delete(grantId);
    }
  };
}
