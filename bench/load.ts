/**
 * The load generator: closed-loop workers over one keep-alive undici Pool per server. Each
 * worker sends a request, waits for the full response, and sends the next, for warm-up +
 * measured duration; only responses completed inside the measured window count.
 *
 * Tenants are reached by an explicit Host header on a connection to 127.0.0.1 (undici
 * sends a caller's Host as given; Node's global fetch would replace it), so no resolver
 * for *.localhost is needed.
 */
import { Pool, type Dispatcher } from 'undici';

export type RequestSpec = Pick<Dispatcher.RequestOptions, 'method' | 'path' | 'headers' | 'body'>;

export interface LoadOptions {
  /** Builds the next request; called once per request, so it can pick a tenant at random. */
  next: () => RequestSpec;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
}

export interface LoadResult {
  /** Successful responses per second over the measured window. */
  rps: number;
  ok: number;
  errors: number;
  /** The first unexpected response, for the report. */
  firstError: string | undefined;
  p50Ms: number;
  p99Ms: number;
}

export function serverPool(port: number, connections: number): Pool {
  // pipelining 1: one request at a time per connection, as real clients do.
  return new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export async function runLoad(pool: Pool, options: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;

  async function worker(): Promise<void> {
    while (performance.now() < end) {
      const spec = options.next();
      const sent = performance.now();
      let ok = false;
      let problem: string | undefined;
      try {
        const res = await pool.request(spec);
        ok = res.statusCode === 200;
        if (ok) await res.body.dump();
        else problem = `HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`;
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      const done = performance.now();
      if (done < measureFrom || done >= end) continue;
      if (ok) latencies.push(done - sent);
      else {
        errors++;
        firstError ??= problem;
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, worker));
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (options.durationMs / 1000),
    ok: latencies.length,
    errors,
    firstError,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  };
}

/** One request, its latency, and its body (for sanity checks and cold-start timings). */
export async function timedRequest(pool: Pool, spec: RequestSpec): Promise<{ ms: number; status: number; body: string }> {
  const sent = performance.now();
  const res = await pool.request(spec);
  const body = await res.body.text();
  return { ms: performance.now() - sent, status: res.statusCode, body };
}

/** Runs `fn` over `items` with at most `limit` in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!, i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
