/**
 * The Redis rate limiter: one counter per subject (a small hash), updated by one Lua script
 * so that check and increment are atomic across instances. Redis trouble never fails a
 * request: while Redis is not ready, or when a command fails or times out, that call is
 * counted by the in-memory fallback instead (limits then hold per instance, not in sum),
 * and a warning is logged at most once a minute.
 */
import type { Logger } from 'pino';
import type { RedisTarget } from '../config/redis-target.ts';
import { openRedis, type RedisConnection } from '../storage/redis-client.ts';
import type { RateLimitRule } from './rate-limit-rules.ts';
import { windowOutcome } from './rate-limit-window.ts';
import { rateLimitStorageKey, type ClosableRateLimiter, type RateLimitKey, type RateLimiter, type RateLimitResult } from './rate-limiter.ts';

/**
 * consumeWindow (rate-limit-window.ts) in Lua, on Redis's clock so that instances with
 * skewed clocks still agree on window boundaries. KEYS[1] is the subject's hash
 * (w = window index, c = count in it, p = count in the window before); ARGV: window length
 * in ms, limit. Only an allowed request writes. Returns {allowed, c, p, elapsed ms}.
 */
const CONSUME_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local size = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local index = math.floor(now / size)
local elapsed = now - index * size
local state = redis.call('HMGET', KEYS[1], 'w', 'c', 'p')
local w = tonumber(state[1])
local c = tonumber(state[2]) or 0
local p = tonumber(state[3]) or 0
if w ~= index then
  if w == index - 1 then p = c else p = 0 end
  c = 0
end
local allowed = 0
if p * (size - elapsed) / size + c + 1 <= limit then
  c = c + 1
  allowed = 1
  redis.call('HSET', KEYS[1], 'w', index, 'c', c, 'p', p)
  redis.call('PEXPIRE', KEYS[1], size * 2)
end
return { allowed, c, p, elapsed }
`;

type ScriptedRedis = RedisConnection & { atriumRateLimit(key: string, windowMs: number, limit: number): Promise<[number, number, number, number]> };

export interface RedisRateLimiterOptions {
  /** How long the very first call waits for the connection (later calls never wait). */
  firstConnectWaitMs?: number;
  /** A command slower than this counts as Redis being unavailable. */
  commandTimeoutMs?: number;
  /** After a timeout, skip Redis this long rather than make every request wait for it. */
  backoffMs?: number;
  /** Told of every connection error (counted as a dependency error survived). */
  onConnectionError?: (err: Error) => void;
}

export class RedisRateLimiter implements ClosableRateLimiter {
  readonly #target: RedisTarget;
  readonly #log: Logger;
  readonly #fallback: RateLimiter;
  readonly #hashKey: Buffer;
  readonly #options: Required<Omit<RedisRateLimiterOptions, 'onConnectionError'>>;
  readonly #onConnectionError: (err: Error) => void;
  #client: ScriptedRedis | undefined;
  #firstConnect: Promise<void> | undefined;
  #skipUntil = 0;
  #closed = false;
  #lastWarning = Number.NEGATIVE_INFINITY;

  constructor(target: RedisTarget, log: Logger, fallback: RateLimiter, hashKey: Buffer, options: RedisRateLimiterOptions = {}) {
    this.#target = target;
    this.#log = log;
    this.#fallback = fallback;
    this.#hashKey = hashKey;
    const { onConnectionError = () => {}, ...timings } = options;
    this.#options = { firstConnectWaitMs: 1_000, commandTimeoutMs: 500, backoffMs: 1_000, ...timings };
    this.#onConnectionError = onConnectionError;
  }

  async consume(key: RateLimitKey, rule: RateLimitRule): Promise<RateLimitResult> {
    const client = await this.#usableClient();
    if (client) {
      try {
        const windowMs = rule.windowSeconds * 1000;
        const [allowed, current, previous, elapsedMs] = await client.atriumRateLimit(rateLimitStorageKey(key, rule, this.#hashKey), windowMs, rule.limit);
        return windowOutcome(allowed === 1, current, previous, elapsedMs, windowMs, rule.limit);
      } catch (err) {
        this.#unavailable(err);
      }
    }
    return this.#fallback.consume(key, rule);
  }

  async reset(key: RateLimitKey, rule: RateLimitRule): Promise<void> {
    await this.#fallback.reset(key, rule);
    const client = await this.#usableClient();
    if (!client) return;
    try {
      await client.del(rateLimitStorageKey(key, rule, this.#hashKey));
    } catch (err) {
      this.#unavailable(err);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#client?.disconnect();
    this.#client = undefined;
  }

  /** The connection if it is ready now; opened on first use. Undefined means "count locally". */
  async #usableClient(): Promise<ScriptedRedis | undefined> {
    if (this.#closed) return undefined;
    if (!this.#client) {
      this.#client = this.#connect();
      this.#firstConnect = waitForReady(this.#client, this.#options.firstConnectWaitMs);
    }
    if (this.#firstConnect) {
      await this.#firstConnect;
      this.#firstConnect = undefined;
    }
    if (this.#client.status === 'ready' && Date.now() >= this.#skipUntil) return this.#client;
    this.#unavailable(new Error(`connection ${this.#client.status}`));
    return undefined;
  }

  #connect(): ScriptedRedis {
    const client = openRedis(this.#target, {
      lazyConnect: true,
      // Never queue a command for later: a request counts locally instead of waiting.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: this.#options.commandTimeoutMs,
      // Connection errors surface as failed calls (and their warning); ioredis keeps reconnecting.
      onError: (err: Error) => {
        this.#log.debug({ err: err.message }, 'rate limiter: redis connection error');
        this.#onConnectionError(err);
      },
    }) as ScriptedRedis;
    client.defineCommand('atriumRateLimit', { numberOfKeys: 1, lua: CONSUME_SCRIPT });
    client.connect().catch(() => {});
    return client;
  }

  #unavailable(err: unknown): void {
    const message = err instanceof Error ? err.message : String(err);
    if (/timed out/i.test(message)) this.#skipUntil = Date.now() + this.#options.backoffMs;
    const now = Date.now();
    if (now - this.#lastWarning < 60_000) return;
    this.#lastWarning = now;
    this.#log.warn({ err: message }, 'rate limiter: Redis unavailable, counting in this instance only (warned at most once a minute)');
  }
}

function waitForReady(client: RedisConnection, withinMs: number): Promise<void> {
  if (client.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('end', done);
      resolve();
    };
    const timer = setTimeout(done, withinMs);
    client.once('ready', done);
    client.once('end', done);
  });
}
