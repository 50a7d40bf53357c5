/**
 * Rate limiting: the interface, the storage key and the in-memory counter. The Redis counter
 * (shared by every instance) is in rate-limiter-redis.ts, the choice between them in
 * rate-limiter-factory.ts, the counting rule in rate-limit-window.ts and the per-tenant
 * limits in rate-limit-rules.ts.
 */
import { createHmac } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { RateLimitRule } from './rate-limit-rules.ts';
import { consumeWindow, type WindowOutcome, type WindowState } from './rate-limit-window.ts';

export type { RateLimitRule } from './rate-limit-rules.ts';
export type RateLimitResult = WindowOutcome;

/** Whose requests are counted: always within one tenant. */
export interface RateLimitKey {
  readonly tenantId: string;
  /** An IP address, a lowercased email, a client id: hashed before it is stored. */
  readonly subject: string;
}

export interface RateLimiter {
  /** Counts one request against `rule` if it is allowed, and says whether it is. */
  consume(key: RateLimitKey, rule: RateLimitRule): Promise<RateLimitResult>;
  /** Forgets the subject's count (a successful sign-in clears its account's failures). */
  reset(key: RateLimitKey, rule: RateLimitRule): Promise<void>;
}

export interface ClosableRateLimiter extends RateLimiter {
  close(): Promise<void>;
}

/**
 * `atrium:{<tenantId>}:rl:<rule>:<hash>`. The subject is HMAC-SHA256'd with a key derived
 * from the master key, so no email or IP sits in Redis, and (unlike a bare SHA-256 of an
 * email) whoever reads Redis cannot confirm a guessed address. The braces are a Redis
 * Cluster hash tag: a tenant's counters live on one slot.
 */
export function rateLimitStorageKey(key: RateLimitKey, rule: RateLimitRule, hashKey: Buffer): string {
  const digest = createHmac('sha256', hashKey).update(key.subject).digest('base64url');
  return `atrium:{${key.tenantId}}:rl:${rule.name}:${digest}`;
}

/**
 * Counts in this process, in a bounded LRU: under a flood of distinct subjects the least
 * recently seen counters are dropped first (which can only forgive, never block).
 */
export class MemoryRateLimiter implements ClosableRateLimiter {
  readonly #counters: LRUCache<string, WindowState>;
  readonly #hashKey: Buffer;
  readonly #now: () => number;

  constructor(hashKey: Buffer, options: { max?: number; now?: () => number } = {}) {
    this.#hashKey = hashKey;
    this.#now = options.now ?? Date.now;
    this.#counters = new LRUCache({ max: options.max ?? 100_000 });
  }

  async consume(key: RateLimitKey, rule: RateLimitRule): Promise<RateLimitResult> {
    const id = rateLimitStorageKey(key, rule, this.#hashKey);
    const windowMs = rule.windowSeconds * 1000;
    const { state, outcome } = consumeWindow(this.#counters.get(id), this.#now(), windowMs, rule.limit);
    // Both windows are stale after two window lengths: the counter can go.
    if (outcome.allowed) this.#counters.set(id, state, { ttl: 2 * windowMs });
    return outcome;
  }

  async reset(key: RateLimitKey, rule: RateLimitRule): Promise<void> {
    this.#counters.delete(rateLimitStorageKey(key, rule, this.#hashKey));
  }

  async close(): Promise<void> {
    this.#counters.clear();
  }
}
