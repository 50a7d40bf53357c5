/**
 * Signing key pairs generated ahead of time, so creating a tenant does not wait for an RSA
 * key generation (~40 ms of one core here, most of a creation's time).
 *
 * Why in memory, not in the database: a pooled pair belongs to no tenant yet, and every
 * private key at rest is sealed with the tenant's id and the key's kid as its context
 * (signing-keys.ts), which a pooled pair does not have. A pool in the database would need
 * keys sealed under some other context, re-sealed when taken, and a row lock so that two
 * instances never take the same row. In memory, each instance holds its own few pairs,
 * unsealed private keys never leave the process, and a restart loses nothing but the time to
 * refill. A pair is handed out once: `take` removes it from the pool before anything awaits,
 * so two creations (even at the same moment) never share a key.
 *
 * Bounded (`size` pairs, SIGNING_KEY_POOL_SIZE) and refilled one pair at a time in the
 * background: generation runs on libuv's thread pool, and one at a time leaves the other
 * threads to argon2 and signatures. A refill generation starts only once `quietMs` have
 * passed since the last take: what follows a creation (its client, its first token) comes
 * within milliseconds, and on a machine of two cores an RSA generation beside it doubled
 * those (measured, interleaved, PostgreSQL, load average ~15: the first token 47-101 ms
 * after the creation's answer with the refill at once, 31-38 ms with it held back). An empty pool is not an error: the creation generates its pair inline, as it did
 * before the pool.
 */
import type { Logger } from 'pino';
import type { GeneratedKey } from './signing-keys.ts';

export interface KeyPoolStats {
  /** Pairs ready now. */
  readonly available: number;
  /** The most the pool holds (SIGNING_KEY_POOL_SIZE). */
  readonly size: number;
  /** Takes served from the pool. */
  readonly hits: number;
  /** Takes that found the pool empty and generated inline. */
  readonly misses: number;
}

export class SigningKeyPool {
  readonly #size: number;
  readonly #generate: () => Promise<GeneratedKey[]>;
  readonly #log: Logger;
  readonly #ready: GeneratedKey[][] = [];
  readonly #quietMs: number;
  #filling: Promise<void> | undefined;
  #closed = false;
  #lastTake = -Infinity;
  #wake: { timer: NodeJS.Timeout; resolve: () => void } | undefined;
  #hits = 0;
  #misses = 0;

  /**
   * `size`: pairs kept ready (0: none, every take generates inline). `generate`: one fresh
   * pair. `quietMs`: how long after a take a refill generation waits.
   */
  constructor(size: number, generate: () => Promise<GeneratedKey[]>, log: Logger, options: { quietMs?: number } = {}) {
    this.#size = size;
    this.#quietMs = options.quietMs ?? 250;
    this.#generate = generate;
    this.#log = log;
  }

  get stats(): KeyPoolStats {
    return { available: this.#ready.length, size: this.#size, hits: this.#hits, misses: this.#misses };
  }

  /** Starts filling in the background (the server calls it; an operator command never does). */
  start(): this {
    this.#refill();
    return this;
  }

  /** A pair no one else has or will get: from the pool if one is ready, generated now otherwise. */
  take(): Promise<GeneratedKey[]> {
    // shift() before any await: the pair is out of the pool before another take can run.
    const pair = this.#ready.shift();
    this.#lastTake = performance.now();
    this.#refill();
    if (pair) {
      this.#hits++;
      return Promise.resolve(pair);
    }
    this.#misses++;
    return this.#generate();
  }

  /** Resolves once the pool is full (or filling stopped); for tests and the bench's warm-up. */
  async filled(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  /** Stops refilling and drops the pairs held: their private keys go with the process's memory, nowhere else. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#ready.length = 0;
    if (this.#wake) {
      clearTimeout(this.#wake.timer);
      this.#wake.resolve();
    }
    await this.#filling;
  }

  #refill(): void {
    if (this.#filling || this.#closed || this.#ready.length >= this.#size) return;
    this.#filling = this.#fill().finally(() => (this.#filling = undefined));
  }

  async #fill(): Promise<void> {
    while (!this.#closed && this.#ready.length < this.#size) {
      const wait = this.#lastTake + this.#quietMs - performance.now();
      if (wait > 0) {
        await this.#sleep(wait);
        continue;
      }
      try {
        const pair = await this.#generate();
        if (this.#closed) return;
        this.#ready.push(pair);
      } catch (err) {
        // The next take generates inline (and tries refilling again): never fatal. Only the
        // error is logged, never a key.
        this.#log.warn({ err: err instanceof Error ? err.message : String(err) }, 'signing key pool: generation failed');
        return;
      }
    }
  }

  /** A wait (a fraction of a second) that close() cuts short. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#wake = undefined;
        resolve();
      }, ms);
      this.#wake = { timer, resolve };
    });
  }
}
