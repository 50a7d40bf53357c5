/**
 * Loaded into the Atrium child with `node --import bench/atrium-preload.ts src/main.ts`, so
 * the bench runs Atrium's real entry point unchanged and still can ask it, over IPC, for
 * its heap and for the Provider pool's counters (builds, evictions), which no endpoint
 * exposes.
 *
 * The pool is found by wrapping ProviderPool.prototype.get once: this module imports the
 * same module URL as src/services.ts, so it patches the very class Atrium instantiates.
 * The wrapper captures the instance on the first call and then puts the original method
 * back, so nothing of the bench stays on the request path.
 */
import { ProviderPool, type PoolStats } from '../src/runtime/provider-pool.ts';
import { installProbe } from './probe.ts';

/** What the parent receives for a `stats` request. */
export interface AtriumPoolSnapshot {
  size: number;
  hits: number;
  misses: number;
  evictions: number;
  builds: number;
  /** The most recent build times (ms), oldest first, as the pool keeps them. */
  buildMs: number[];
  /** The process's resident set size (MB), now. */
  rssMb: number;
  /** Where that memory is, now (MB): V8's heap in use and reserved, and memory outside it (buffers, native keys). */
  memory: { heapUsedMb: number; heapTotalMb: number; externalMb: number };
}

const mb = (bytes: number) => Math.round(bytes / 1048576);

let pool: ProviderPool | undefined;
// Taken off the prototype on purpose, to be put back: it is only ever called with `apply`.
// eslint-disable-next-line @typescript-eslint/unbound-method
const originalGet = ProviderPool.prototype.get;
ProviderPool.prototype.get = function capturePool(this: ProviderPool, ...args: Parameters<ProviderPool['get']>) {
  // eslint-disable-next-line @typescript-eslint/no-this-alias -- keeping the instance is the point
  pool = this;
  ProviderPool.prototype.get = originalGet;
  return originalGet.apply(this, args);
};

installProbe((): AtriumPoolSnapshot | undefined => {
  if (!pool) return undefined;
  const s: PoolStats = pool.stats;
  const m = process.memoryUsage();
  const memory = { heapUsedMb: mb(m.heapUsed), heapTotalMb: mb(m.heapTotal), externalMb: mb(m.external) };
  return { size: pool.size, hits: s.hits, misses: s.misses, evictions: s.evictions, builds: s.builds, buildMs: [...s.buildMs], rssMb: mb(m.rss), memory };
});
