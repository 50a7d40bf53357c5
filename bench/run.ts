/**
 * `npm run bench`: Atrium against a bare single-tenant oidc-provider, same machine, same run.
 *
 *   1. client_credentials tokens/s on one tenant
 *   2. discovery requests/s on one tenant
 *   3. both again spread uniformly over 200 tenants with a Provider pool of 50
 *      (so most requests evict one Provider and build another)
 *   4. latency of the first request to a cold tenant (keys exist, Provider not pooled)
 *   5. heap per pooled Provider
 *
 * Each server runs in its own process (Atrium: its real src/main.ts), the load generator
 * here, so the generator never shares the server's event loop. Phases run one after the
 * other, never two servers under load at once. Progress goes to stderr, the report to
 * stdout. Children, databases and temporary directories are removed however the run ends.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import { chooseBackend, type Backend } from './backend.ts';
import { stopAll, type ServerChild } from './children.ts';
import { percentile, runLoad, serverPool, timedRequest, type LoadResult, type RequestSpec } from './load.ts';
import { table, tokenFormat, type Row } from './report.ts';
import { AtriumAdmin, ROOT, discoveryRequest, startAtrium, startBare, tokenRequest, type Target } from './targets.ts';
import type { AtriumPoolSnapshot } from './atrium-preload.ts';

const CONCURRENCY = 32;
const WARMUP_MS = 1_000;
const DURATION_MS = 5_000;
const SPREAD_TENANTS = 200;
const POOL_SIZE = 50;
const COLD_TENANTS = 50;
const HEAP_PROVIDERS = 200;
/** Tenants built before the heap baseline, so one-time costs (code, caches) are not counted per Provider. */
const HEAP_WARMUP = 5;

const started = performance.now();
function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s] ${message}\n`);
}

const pools = new Set<Pool>();
function openPool(port: number): Pool {
  const pool = serverPool(port, CONCURRENCY);
  pools.add(pool);
  return pool;
}
async function closePool(pool: Pool): Promise<void> {
  pools.delete(pool);
  await pool.destroy();
}

async function load(name: string, pool: Pool, next: () => RequestSpec): Promise<LoadResult> {
  progress(`${name}: ${CONCURRENCY} connections, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s`);
  const result = await runLoad(pool, { next, concurrency: CONCURRENCY, warmupMs: WARMUP_MS, durationMs: DURATION_MS });
  progress(`  ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ${result.errors} errors`);
  return result;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const slugs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** A sanity request before any load: the figures mean nothing if it fails. */
async function expectOk(pool: Pool, spec: RequestSpec, what: string): Promise<string> {
  const res = await timedRequest(pool, spec);
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  return res.body;
}

/** First request to each never-served host, then a second one, one host at a time with nothing else running. */
async function coldLatencies(pool: Pool, hosts: readonly string[]): Promise<{ first: number[]; second: number[] }> {
  const first: number[] = [];
  const second: number[] = [];
  for (const host of hosts) {
    for (const into of [first, second]) {
      const res = await timedRequest(pool, discoveryRequest(host));
      if (res.status !== 200) throw new Error(`cold discovery at ${host}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
      into.push(res.ms);
    }
  }
  return { first: first.sort((a, b) => a - b), second: second.sort((a, b) => a - b) };
}

/** heapUsed after gc, with `hosts` served once each in between; returns bytes per host. */
async function heapPerProvider(child: ServerChild, pool: Pool, warmHosts: readonly string[], hosts: readonly string[]): Promise<{ perProvider: number; before: number; after: number }> {
  for (const host of warmHosts) await expectOk(pool, discoveryRequest(host), `heap warm-up ${host}`);
  const before = (await child.ask('heap')).heapUsed!;
  // Few at a time: the figure is about what stays, not about a burst.
  for (let i = 0; i < hosts.length; i += 4) await Promise.all(hosts.slice(i, i + 4).map((h) => expectOk(pool, discoveryRequest(h), `heap ${h}`)));
  const after = (await child.ask('heap')).heapUsed!;
  return { perProvider: (after - before) / hosts.length, before, after };
}

async function poolStats(child: ServerChild): Promise<AtriumPoolSnapshot> {
  const stats = (await child.ask('stats')).stats as AtriumPoolSnapshot | undefined;
  if (!stats) throw new Error('the Atrium probe has not seen the Provider pool yet');
  return stats;
}

/** What the pool did between two snapshots: builds per second, their median time, hit rate. */
function churn(before: AtriumPoolSnapshot, after: AtriumPoolSnapshot, seconds: number): string {
  const builds = after.builds - before.builds;
  const lookups = after.hits + after.misses - (before.hits + before.misses);
  const recent = after.buildMs.slice(-Math.min(builds, after.buildMs.length)).sort((a, b) => a - b);
  const hitRate = lookups ? ((after.hits - before.hits) / lookups) * 100 : NaN;
  return `${builds} Provider builds (${(builds / seconds).toFixed(0)}/s, median build ${percentile(recent, 50).toFixed(1)} ms), ${after.evictions - before.evictions} evictions, pool hit rate ${hitRate.toFixed(0)}%`;
}

interface AtriumFigures {
  tokens: LoadResult;
  discovery: LoadResult;
  spreadTokens: LoadResult;
  spreadDiscovery: LoadResult;
  spreadTokensChurn: string;
  spreadDiscoveryChurn: string;
  cold: { first: number[]; second: number[] };
  tokenFormat: string;
  errorLines: number;
  encryptionKey: string;
}

async function benchAtrium(backend: Backend): Promise<AtriumFigures> {
  progress(`starting Atrium (pool ${POOL_SIZE})`);
  const atrium = await startAtrium('atrium', { backendEnv: backend.env, poolMaxSize: POOL_SIZE });
  const pool = openPool(atrium.child.port);
  const admin = new AtriumAdmin(pool, atrium);

  progress(`provisioning 1 + ${SPREAD_TENANTS} tenants with a client_credentials client, ${COLD_TENANTS} cold tenants (keys only)`);
  const [solo] = await admin.provision(['solo'], true);
  const spread = await admin.provision(slugs('load', SPREAD_TENANTS), true);
  const cold = await admin.provision(slugs('cold', COLD_TENANTS), false);

  const format = tokenFormat(await expectOk(pool, tokenRequest(solo!), 'Atrium token'));
  const issuer = (JSON.parse(await expectOk(pool, discoveryRequest(solo!.host), 'Atrium discovery')) as { issuer: string }).issuer;
  if (issuer !== `http://${solo!.host}`) throw new Error(`Atrium served issuer ${issuer} for host ${solo!.host}`);

  const tokens = await load('Atrium tokens, 1 tenant', pool, () => tokenRequest(solo!));
  const discovery = await load('Atrium discovery, 1 tenant', pool, () => discoveryRequest(solo!.host));
  const seconds = (WARMUP_MS + DURATION_MS) / 1000;
  const s0 = await poolStats(atrium.child);
  const spreadTokens = await load(`Atrium tokens, ${SPREAD_TENANTS} tenants`, pool, () => tokenRequest(pick(spread)));
  const s1 = await poolStats(atrium.child);
  const spreadDiscovery = await load(`Atrium discovery, ${SPREAD_TENANTS} tenants`, pool, () => discoveryRequest(pick(spread).host));
  const s2 = await poolStats(atrium.child);

  progress(`cold first request on ${COLD_TENANTS} tenants never served before`);
  const coldResult = await coldLatencies(pool, cold.map((t: Target) => t.host));

  await closePool(pool);
  await atrium.child.stop();
  return {
    tokens,
    discovery,
    spreadTokens,
    spreadDiscovery,
    spreadTokensChurn: churn(s0, s1, seconds),
    spreadDiscoveryChurn: churn(s1, s2, seconds),
    cold: coldResult,
    tokenFormat: format,
    errorLines: atrium.child.errorLines,
    encryptionKey: atrium.encryptionKey,
  };
}

async function benchAtriumHeap(backend: Backend, encryptionKey: string): Promise<{ perProvider: number; pooled: number }> {
  const poolMaxSize = HEAP_PROVIDERS + HEAP_WARMUP + 10;
  progress(`heap: Atrium with --expose-gc, pool ${poolMaxSize}, same database`);
  const atrium = await startAtrium('atrium-heap', { backendEnv: backend.env, poolMaxSize, exposeGc: true, encryptionKey });
  const pool = openPool(atrium.child.port);
  const port = atrium.child.port;
  const host = (slug: string) => `${slug}.localhost:${port}`;
  const result = await heapPerProvider(atrium.child, pool, slugs('cold', HEAP_WARMUP).map(host), slugs('load', HEAP_PROVIDERS).map(host));
  const { size } = await poolStats(atrium.child);
  await closePool(pool);
  await atrium.child.stop();
  return { perProvider: result.perProvider, pooled: size };
}

interface BareFigures {
  tokens: LoadResult;
  discovery: LoadResult;
  opaqueTokens: LoadResult;
  cold: { first: number[]; second: number[] };
  tokenFormat: string;
  opaqueTokenFormat: string;
}

async function benchBare(): Promise<BareFigures> {
  progress('starting bare oidc-provider');
  const bare = await startBare('bare');
  const pool = openPool(bare.child.port);
  const format = tokenFormat(await expectOk(pool, tokenRequest(bare.target), 'bare token'));
  const opaqueFormat = tokenFormat(await expectOk(pool, tokenRequest(bare.opaqueTarget), 'bare opaque token'));
  const tokens = await load('bare tokens', pool, () => tokenRequest(bare.target));
  const discovery = await load('bare discovery', pool, () => discoveryRequest(bare.target.host));
  const opaqueTokens = await load('bare tokens, opaque (supplementary)', pool, () => tokenRequest(bare.opaqueTarget));
  progress(`cold: ${COLD_TENANTS} new Providers, first discovery each`);
  const cold = await coldLatencies(pool, slugs('cold', COLD_TENANTS).map((s) => `${s}.localhost:${bare.child.port}`));
  await closePool(pool);
  await bare.child.stop();
  return { tokens, discovery, opaqueTokens, cold, tokenFormat: format, opaqueTokenFormat: opaqueFormat };
}

async function benchBareHeap(): Promise<{ perProvider: number; providers: number }> {
  progress('heap: bare oidc-provider with --expose-gc');
  const bare = await startBare('bare-heap', { exposeGc: true });
  const pool = openPool(bare.child.port);
  const host = (slug: string) => `${slug}.localhost:${bare.child.port}`;
  const result = await heapPerProvider(bare.child, pool, slugs('warm', HEAP_WARMUP).map(host), slugs('load', HEAP_PROVIDERS).map(host));
  const { providers } = (await bare.child.ask('stats')).stats as { providers: number };
  await closePool(pool);
  await bare.child.stop();
  return { perProvider: result.perProvider, providers };
}

function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(`${ROOT}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
}

function describeErrors(name: string, r: LoadResult): string | undefined {
  return r.errors ? `${name}: ${r.errors} failed requests, first: ${r.firstError}` : undefined;
}

async function main(): Promise<void> {
  const backend = await chooseBackend();
  progress(`storage: ${backend.description}`);
  try {
    const a = await benchAtrium(backend);
    const aHeap = await benchAtriumHeap(backend, a.encryptionKey);
    const b = await benchBare();
    const bHeap = await benchBareHeap();

    const KiB = 1024;
    const spreadLabel = `${SPREAD_TENANTS} tenants, pool ${POOL_SIZE}`;
    const rows: Row[] = [
      { label: '1. client_credentials tokens/s, 1 tenant', atrium: a.tokens.rps, bare: b.tokens.rps, unit: 'req/s' },
      { label: '2. discovery requests/s, 1 tenant', atrium: a.discovery.rps, bare: b.discovery.rps, unit: 'req/s' },
      { label: `3a. tokens/s, ${spreadLabel}`, atrium: a.spreadTokens.rps, bare: b.tokens.rps, unit: 'req/s', bareNote: '(=1)' },
      { label: `3b. discovery/s, ${spreadLabel}`, atrium: a.spreadDiscovery.rps, bare: b.discovery.rps, unit: 'req/s', bareNote: '(=2)' },
      { label: `4. cold first request, median (${COLD_TENANTS} tenants)`, atrium: percentile(a.cold.first, 50), bare: percentile(b.cold.first, 50), unit: 'ms' },
      { label: '4. cold first request, p95', atrium: percentile(a.cold.first, 95), bare: percentile(b.cold.first, 95), unit: 'ms' },
      { label: '   (second request, median)', atrium: percentile(a.cold.second, 50), bare: percentile(b.cold.second, 50), unit: 'ms' },
      { label: `5. heap per pooled Provider (N=${HEAP_PROVIDERS})`, atrium: aHeap.perProvider / KiB, bare: bHeap.perProvider / KiB, unit: 'KiB' },
    ];
    const latencyRows: Row[] = [
      { label: '1. tokens, 1 tenant: p50 / p99', atrium: a.tokens.p50Ms, bare: b.tokens.p50Ms, unit: 'ms' },
      { label: '', atrium: a.tokens.p99Ms, bare: b.tokens.p99Ms, unit: 'ms' },
      { label: '2. discovery, 1 tenant: p50 / p99', atrium: a.discovery.p50Ms, bare: b.discovery.p50Ms, unit: 'ms' },
      { label: '', atrium: a.discovery.p99Ms, bare: b.discovery.p99Ms, unit: 'ms' },
      { label: '3a. tokens, spread: p50 / p99', atrium: a.spreadTokens.p50Ms, bare: b.tokens.p50Ms, unit: 'ms', bareNote: '(=1)' },
      { label: '', atrium: a.spreadTokens.p99Ms, bare: b.tokens.p99Ms, unit: 'ms', bareNote: '(=1)' },
      { label: '3b. discovery, spread: p50 / p99', atrium: a.spreadDiscovery.p50Ms, bare: b.discovery.p50Ms, unit: 'ms', bareNote: '(=2)' },
      { label: '', atrium: a.spreadDiscovery.p99Ms, bare: b.discovery.p99Ms, unit: 'ms', bareNote: '(=2)' },
    ];
    const problems = [
      describeErrors('Atrium 1', a.tokens),
      describeErrors('Atrium 2', a.discovery),
      describeErrors('Atrium 3a', a.spreadTokens),
      describeErrors('Atrium 3b', a.spreadDiscovery),
      describeErrors('bare 1', b.tokens),
      describeErrors('bare 2', b.discovery),
      describeErrors('bare opaque', b.opaqueTokens),
      a.errorLines ? `Atrium logged ${a.errorLines} error-level lines during the run` : undefined,
    ].filter(Boolean);

    const out = [
      '',
      `Atrium vs bare oidc-provider ${versionOf('oidc-provider')} — node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()})`,
      `Load: ${CONCURRENCY} keep-alive connections (undici ${versionOf('undici')}), closed loop, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured per figure; each server in its own process`,
      `Atrium storage: ${backend.description}`,
      `Token format: Atrium: ${a.tokenFormat}`,
      `              bare:   ${b.tokenFormat}`,
      '',
      table(rows),
      '',
      'Latency under the same load (closed loop, so p50 ≈ connections / throughput):',
      table(latencyRows),
      '',
      'Notes:',
      `  3a pool churn: ${a.spreadTokensChurn}`,
      `  3b pool churn: ${a.spreadDiscoveryChurn}`,
      `  4: Atrium: first request to a tenant created earlier (keys in the database) but never served: tenant lookup, keys read`,
      `     and decrypted, Provider built, discovery. Bare: new Provider(...) with pre-generated keys, then discovery.`,
      `  5: heapUsed after forced gc, ${HEAP_PROVIDERS} more Providers pooled vs ${HEAP_WARMUP} warm-up ones (Atrium pool size at the end: ${aHeap.pooled};`,
      `     bare Providers alive: ${bHeap.providers}); each served one discovery request. Native key material outside the V8 heap is not counted.`,
      `  Supplementary, bare with opaque tokens (oidc-provider's default, stored in memory): ${b.opaqueTokens.rps.toFixed(0)} tokens/s;`,
      `     format ${b.opaqueTokenFormat}.`,
      '  Ratio = Atrium / bare: below 1 for throughput, above 1 for latency or memory, means Atrium costs more.',
      ...(problems.length ? ['', 'Problems:', ...problems.map((p) => `  ${p}`)] : []),
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    await Promise.allSettled([...pools].map((p) => p.destroy()));
    await stopAll();
    await backend.cleanup().catch((err: unknown) => progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    progress('done; servers stopped, storage removed');
  }
}

// Ctrl-C or a kill: stop the children and remove the storage before leaving.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping`);
    // main()'s finally cannot run while it awaits a request that never ends: stop the servers
    // here, which fails those requests and lets main unwind through its cleanup.
    void stopAll();
    setTimeout(() => process.exit(130), 15_000).unref();
  });
}

main().then(
  () => process.exit(interrupted ? 130 : 0),
  (err: unknown) => {
    process.stderr.write(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
