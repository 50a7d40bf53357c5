/**
 * The load generator: closed-loop workers over one keep-alive undici Pool per server. Each
 * worker sends a request, waits for the full response, and sends the next, for warm-up +
 * measured duration; only responses completed inside the measured window count.
 *
 * Tenants are reached by an explicit Host header on a connection to 127.0.0.1 (undici
 * sends a caller's Host as given; Node's global fetch would replace it), so no resolver
 * for *.localhost is needed.
 */
import os from 'node:os';
import { Pool, type Dispatcher } from 'undici';

export type RequestSpec = Pick<Dispatcher.RequestOptions, 'method' | 'path' | 'headers' | 'body'>;

export interface LoadOptions {
  /** Builds the next request; called once per request, so it can pick a tenant at random. */
  next?: (worker: number) => RequestSpec;
  /**
   * Instead of `next`: one whole operation (a sign-in flow, a refresh grant that keeps the
   * rotated token), counted as one success unless it throws. Worker `worker` runs it.
   */
  operation?: (worker: number) => Promise<void>;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /**
   * The server's CPU time so far (µs; with several servers, their sum), read at the start and the end of the measured
   * window: CPU per request does not depend on whether the load generator, sharing the
   * machine, kept the server saturated.
   */
  serverCpuUs?: () => Promise<number>;
}

export interface LoadResult {
  /** Successful responses per second over the measured window. */
  rps: number;
  ok: number;
  errors: number;
  /** The first unexpected response, for the report. */
  firstError: string | undefined;
  /** Successful responses per pool, in the order the pools were given. */
  okPerPool: number[];
  p50Ms: number;
  p99Ms: number;
  /** Server CPU time per successful request (µs); NaN without `serverCpuUs`. */
  serverCpuUsPerRequest: number;
  /** Server CPU use over the window, in cores (1 = one core busy all the time). */
  serverCores: number;
  /** This process's (the load generator's) CPU use over the window, in cores. */
  generatorCores: number;
  /**
   * CPU used on the machine by everything else over the window, in cores, approximately:
   * the database server, and any other work on the machine competing with the measurement.
   */
  otherCores: number;
}

/** Busy CPU time of the whole machine so far (µs), all cores. */
function machineBusyUs(): number {
  return os.cpus().reduce((sum, { times }) => sum + (times.user + times.nice + times.sys + times.irq) * 1000, 0);
}

export function serverPool(port: number, connections: number): Pool {
  // pipelining 1: one request at a time per connection, as real clients do.
  return new Pool(`http://127.0.0.1:${port}`, { connections, pipelining: 1, keepAliveTimeout: 60_000 });
}

export function percentile(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/**
 * Closed-loop load on one server, or on several (`pools`, one per server): worker i sends
 * to pool i mod n, so connections are split evenly between the servers.
 */
export async function runLoad(pools: Pool | readonly Pool[], options: LoadOptions): Promise<LoadResult> {
  const targets: readonly Pool[] = Array.isArray(pools) ? pools : [pools as Pool];
  const okPerPool = targets.map(() => 0);
  const start = performance.now();
  const measureFrom = start + options.warmupMs;
  const end = measureFrom + options.durationMs;
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;

  // CPU readings at the edges of the measured window (the IPC round trip adds well under a ms).
  const sampleAt = (at: number) =>
    new Promise<{ server: number; generator: number; machine: number; t: number }>((resolve, reject) =>
      setTimeout(() => {
        const generator = process.cpuUsage();
        const machine = machineBusyUs();
        const t = performance.now();
        (options.serverCpuUs?.() ?? Promise.resolve(NaN)).then((server) => resolve({ server, generator: generator.user + generator.system, machine, t }), reject);
      }, Math.max(0, at - performance.now())),
    );
  const samples = Promise.all([sampleAt(measureFrom), sampleAt(end)]);
  // Awaited after the workers; until then a failed sample (server gone) must not count as unhandled.
  samples.catch(() => {});

  async function worker(index: number): Promise<void> {
    const slot = index % targets.length;
    const pool = targets[slot]!;
    while (performance.now() < end) {
      const sent = performance.now();
      let ok = false;
      let problem: string | undefined;
      try {
        if (options.operation) {
          await options.operation(index);
          ok = true;
        } else {
          const res = await pool.request(options.next!(index));
          ok = res.statusCode === 200;
          if (ok) await res.body.dump();
          else problem = `HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 300)}`;
        }
      } catch (err) {
        problem = err instanceof Error ? err.message : String(err);
      }
      const done = performance.now();
      if (done < measureFrom || done >= end) continue;
      if (ok) {
        latencies.push(done - sent);
        okPerPool[slot]!++;
      } else {
        errors++;
        firstError ??= problem;
      }
    }
  }

  await Promise.all(Array.from({ length: options.concurrency }, (_, i) => worker(i)));
  const [from, to] = await samples;
  const wallUs = (to.t - from.t) * 1000;
  latencies.sort((a, b) => a - b);
  return {
    rps: latencies.length / (options.durationMs / 1000),
    ok: latencies.length,
    errors,
    firstError,
    okPerPool,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    serverCpuUsPerRequest: (to.server - from.server) / latencies.length,
    serverCores: (to.server - from.server) / wallUs,
    generatorCores: (to.generator - from.generator) / wallUs,
    // The machine total is tick-sampled, the per-process times exact: the difference is
    // approximate (±0.2 core) and is clamped at 0.
    otherCores: Math.max(0, (to.machine - from.machine - (to.server - from.server) - (to.generator - from.generator)) / wallUs),
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
