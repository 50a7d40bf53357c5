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
 * here, so the generator never shares a server's event loop. Only one server is under load
 * at a time. The machine may be shared (2 cores, other work running), so the throughput
 * figures are measured in rounds that alternate Atrium and bare, and the best round of
 * each counts: background work then penalises both sides alike instead of whichever ran
 * at the wrong moment. The cold-start samples alternate the same way.
 *
 * Progress goes to stderr, the report to stdout. Children, databases and temporary
 * directories are removed however the run ends.
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
const ROUNDS = 3;
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

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const slugs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);

/** A sanity request before any load: the figures mean nothing if it fails. */
async function expectOk(pool: Pool, spec: RequestSpec, what: string): Promise<string> {
  const res = await timedRequest(pool, spec);
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  return res.body;
}

// ---------------------------------------------------------------------------------------
// Throughput: figures measured in alternating rounds

interface Figure {
  key: string;
  server: ServerChild;
  pool: Pool;
  next: () => RequestSpec;
  /** Atrium's spread figures also report what the Provider pool did during the run. */
  poolChurn?: boolean;
}

interface Measured {
  result: LoadResult;
  churn?: string;
}

async function measure(figure: Figure, round: number): Promise<Measured> {
  progress(`${figure.key} (round ${round}/${ROUNDS}): ${CONCURRENCY} connections, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s`);
  const before = figure.poolChurn ? await poolStats(figure.server) : undefined;
  const serverCpuUs = async () => (await figure.server.ask('cpu')).cpuUs!;
  const result = await runLoad(figure.pool, { next: figure.next, concurrency: CONCURRENCY, warmupMs: WARMUP_MS, durationMs: DURATION_MS, serverCpuUs });
  const churn = before ? describeChurn(before, await poolStats(figure.server), (WARMUP_MS + DURATION_MS) / 1000) : undefined;
  progress(
    `  ${result.rps.toFixed(0)} req/s, p50 ${result.p50Ms.toFixed(1)} ms, p99 ${result.p99Ms.toFixed(1)} ms, ${result.errors} errors; ` +
      `${result.serverCpuUsPerRequest.toFixed(0)} µs server CPU/request; cores: server ${result.serverCores.toFixed(2)}, generator ${result.generatorCores.toFixed(2)}, other ${result.otherCores.toFixed(2)}`,
  );
  return { result, churn };
}

/** Every figure once per round, in order; returns each figure's rounds. */
async function measureInRounds(figures: readonly Figure[]): Promise<Map<string, Measured[]>> {
  const all = new Map<string, Measured[]>(figures.map((f) => [f.key, []]));
  for (let round = 1; round <= ROUNDS; round++) for (const f of figures) all.get(f.key)!.push(await measure(f, round));
  return all;
}

/** The round with the highest throughput: the one least disturbed by other work. */
function best(rounds: readonly Measured[]): Measured {
  return rounds.reduce((a, b) => (b.result.rps > a.result.rps ? b : a));
}

async function poolStats(child: ServerChild): Promise<AtriumPoolSnapshot> {
  const stats = (await child.ask('stats')).stats as AtriumPoolSnapshot | undefined;
  if (!stats) throw new Error('the Atrium probe has not seen the Provider pool yet');
  return stats;
}

/** What the pool did between two snapshots: builds per second, their median time, hit rate. */
function describeChurn(before: AtriumPoolSnapshot, after: AtriumPoolSnapshot, seconds: number): string {
  const builds = after.builds - before.builds;
  const lookups = after.hits + after.misses - (before.hits + before.misses);
  const recent = after.buildMs.slice(-Math.min(builds, after.buildMs.length)).sort((a, b) => a - b);
  const hitRate = lookups ? ((after.hits - before.hits) / lookups) * 100 : NaN;
  return `${builds} Provider builds (${(builds / seconds).toFixed(0)}/s, median ${percentile(recent, 50).toFixed(1)} ms from pool miss to built), ${after.evictions - before.evictions} evictions, pool hit rate ${hitRate.toFixed(0)}%`;
}

// ---------------------------------------------------------------------------------------
// Cold start and heap

/**
 * The first request to hosts never served before, then a second one, one at a time with
 * nothing else running, alternating between the two servers sample by sample.
 */
async function coldLatencies(sides: { pool: Pool; hosts: readonly string[] }[]): Promise<{ first: number[]; second: number[] }[]> {
  const out = sides.map(() => ({ first: [] as number[], second: [] as number[] }));
  for (let i = 0; i < COLD_TENANTS; i++) {
    for (const [s, side] of sides.entries()) {
      for (const into of [out[s]!.first, out[s]!.second]) {
        const host = side.hosts[i]!;
        const res = await timedRequest(side.pool, discoveryRequest(host));
        if (res.status !== 200) throw new Error(`cold discovery at ${host}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
        into.push(res.ms);
      }
    }
  }
  for (const o of out) for (const list of [o.first, o.second]) list.sort((a, b) => a - b);
  return out;
}

/** heapUsed after gc, before and after serving `hosts` once each; returns bytes per host. */
async function heapPerProvider(child: ServerChild, pool: Pool, warmHosts: readonly string[], hosts: readonly string[]): Promise<number> {
  for (const host of warmHosts) await expectOk(pool, discoveryRequest(host), `heap warm-up ${host}`);
  const before = (await child.ask('heap')).heapUsed!;
  // A few at a time: the figure is about what stays, not about a burst.
  for (let i = 0; i < hosts.length; i += 4) await Promise.all(hosts.slice(i, i + 4).map((h) => expectOk(pool, discoveryRequest(h), `heap ${h}`)));
  const after = (await child.ask('heap')).heapUsed!;
  return (after - before) / hosts.length;
}

async function atriumHeap(backend: Backend, encryptionKey: string): Promise<{ perProvider: number; pooled: number }> {
  const poolMaxSize = HEAP_PROVIDERS + HEAP_WARMUP + 10;
  progress(`heap: Atrium with --expose-gc, pool ${poolMaxSize}, same database`);
  const atrium = await startAtrium('atrium-heap', { backendEnv: backend.env, poolMaxSize, exposeGc: true, encryptionKey });
  const pool = openPool(atrium.child.port);
  const host = (slug: string) => `${slug}.localhost:${atrium.child.port}`;
  const perProvider = await heapPerProvider(atrium.child, pool, slugs('cold', HEAP_WARMUP).map(host), slugs('load', HEAP_PROVIDERS).map(host));
  const { size } = await poolStats(atrium.child);
  await closePool(pool);
  await atrium.child.stop();
  return { perProvider, pooled: size };
}

async function bareHeap(): Promise<{ perProvider: number; providers: number }> {
  progress('heap: bare oidc-provider with --expose-gc');
  const bare = await startBare('bare-heap', { exposeGc: true });
  const pool = openPool(bare.child.port);
  const host = (slug: string) => `${slug}.localhost:${bare.child.port}`;
  const perProvider = await heapPerProvider(bare.child, pool, slugs('warm', HEAP_WARMUP).map(host), slugs('load', HEAP_PROVIDERS).map(host));
  const { providers } = (await bare.child.ask('stats')).stats as { providers: number };
  await closePool(pool);
  await bare.child.stop();
  return { perProvider, providers };
}

// ---------------------------------------------------------------------------------------

function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(`${ROOT}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const backend = await chooseBackend();
  progress(`storage: ${backend.description}`);
  try {
    progress(`starting Atrium (pool ${POOL_SIZE}) and bare oidc-provider`);
    const [atrium, bare] = await Promise.all([startAtrium('atrium', { backendEnv: backend.env, poolMaxSize: POOL_SIZE }), startBare('bare')]);
    const aPool = openPool(atrium.child.port);
    const bPool = openPool(bare.child.port);

    progress(`provisioning Atrium: 1 + ${SPREAD_TENANTS} tenants with a client_credentials client, ${COLD_TENANTS} cold tenants (keys only)`);
    const admin = new AtriumAdmin(aPool, atrium);
    const [solo] = (await admin.provision(['solo'], true)) as [Target];
    const spread = await admin.provision(slugs('load', SPREAD_TENANTS), true);
    const cold = await admin.provision(slugs('cold', COLD_TENANTS), false);

    const aFormat = tokenFormat(await expectOk(aPool, tokenRequest(solo), 'Atrium token'));
    const bFormat = tokenFormat(await expectOk(bPool, tokenRequest(bare.target), 'bare token'));
    const bOpaqueFormat = tokenFormat(await expectOk(bPool, tokenRequest(bare.opaqueTarget), 'bare opaque token'));
    const issuer = (JSON.parse(await expectOk(aPool, discoveryRequest(solo.host), 'Atrium discovery')) as { issuer: string }).issuer;
    if (issuer !== `http://${solo.host}`) throw new Error(`Atrium served issuer ${issuer} for host ${solo.host}`);

    const rounds = await measureInRounds([
      { key: 'Atrium 1', server: atrium.child, pool: aPool, next: () => tokenRequest(solo) },
      { key: 'bare 1', server: bare.child, pool: bPool, next: () => tokenRequest(bare.target) },
      { key: 'Atrium 2', server: atrium.child, pool: aPool, next: () => discoveryRequest(solo.host) },
      { key: 'bare 2', server: bare.child, pool: bPool, next: () => discoveryRequest(bare.target.host) },
      { key: 'Atrium 3a', server: atrium.child, pool: aPool, next: () => tokenRequest(pick(spread)), poolChurn: true },
      { key: 'Atrium 3b', server: atrium.child, pool: aPool, next: () => discoveryRequest(pick(spread).host), poolChurn: true },
      { key: 'bare opaque', server: bare.child, pool: bPool, next: () => tokenRequest(bare.opaqueTarget) },
    ]);

    progress(`cold first request: ${COLD_TENANTS} Atrium tenants never served before / ${COLD_TENANTS} new bare Providers, alternating`);
    const [aCold, bCold] = (await coldLatencies([
      { pool: aPool, hosts: cold.map((t) => t.host) },
      { pool: bPool, hosts: slugs('cold', COLD_TENANTS).map((s) => `${s}.localhost:${bare.child.port}`) },
    ])) as [{ first: number[]; second: number[] }, { first: number[]; second: number[] }];

    const atriumErrorLines = atrium.child.errorLines;
    await Promise.all([closePool(aPool), closePool(bPool)]);
    await Promise.all([atrium.child.stop(), bare.child.stop()]);

    // Heap: fresh processes, one at a time (heap figures do not suffer from CPU contention).
    const aHeap = await atriumHeap(backend, atrium.encryptionKey);
    const bHeap = await bareHeap();

    process.stdout.write(
      report({ backend, rounds, aCold, bCold, aHeap, bHeap, aFormat, bFormat, bOpaqueFormat, atriumErrorLines }),
    );
  } finally {
    await Promise.allSettled([...pools].map((p) => p.destroy()));
    await stopAll();
    await backend.cleanup().catch((err: unknown) => progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    progress('done; servers stopped, storage removed');
  }
}

interface Results {
  backend: Backend;
  rounds: Map<string, Measured[]>;
  aCold: { first: number[]; second: number[] };
  bCold: { first: number[]; second: number[] };
  aHeap: { perProvider: number; pooled: number };
  bHeap: { perProvider: number; providers: number };
  aFormat: string;
  bFormat: string;
  bOpaqueFormat: string;
  atriumErrorLines: number;
}

function report(r: Results): string {
  const get = (key: string) => best(r.rounds.get(key)!);
  const [a1, b1, a2, b2, a3a, a3b, bOpaque] = ['Atrium 1', 'bare 1', 'Atrium 2', 'bare 2', 'Atrium 3a', 'Atrium 3b', 'bare opaque'].map(get) as [Measured, Measured, Measured, Measured, Measured, Measured, Measured];
  const spreadLabel = `${SPREAD_TENANTS} tenants, pool ${POOL_SIZE}`;

  const rows: Row[] = [
    { label: '1. client_credentials tokens/s, 1 tenant', atrium: a1.result.rps, bare: b1.result.rps, unit: 'req/s' },
    { label: '2. discovery requests/s, 1 tenant', atrium: a2.result.rps, bare: b2.result.rps, unit: 'req/s' },
    { label: `3a. tokens/s, ${spreadLabel}`, atrium: a3a.result.rps, bare: b1.result.rps, unit: 'req/s', bareNote: '(=1)' },
    { label: `3b. discovery/s, ${spreadLabel}`, atrium: a3b.result.rps, bare: b2.result.rps, unit: 'req/s', bareNote: '(=2)' },
    { label: `4. cold first request, median (${COLD_TENANTS} tenants)`, atrium: percentile(r.aCold.first, 50), bare: percentile(r.bCold.first, 50), unit: 'ms' },
    { label: '4. cold first request, p95', atrium: percentile(r.aCold.first, 95), bare: percentile(r.bCold.first, 95), unit: 'ms' },
    { label: '   (second request, median)', atrium: percentile(r.aCold.second, 50), bare: percentile(r.bCold.second, 50), unit: 'ms' },
    { label: `5. heap per pooled Provider (N=${HEAP_PROVIDERS})`, atrium: r.aHeap.perProvider / 1024, bare: r.bHeap.perProvider / 1024, unit: 'KiB' },
  ];

  // Per-request cost in the same (best) rounds; figure 3's bare values are figures 1 and 2.
  const costRows = (
    [
      ['1. tokens, 1 tenant', a1, b1, ''],
      ['2. discovery, 1 tenant', a2, b2, ''],
      ['3a. tokens, spread', a3a, b1, '(=1)'],
      ['3b. discovery, spread', a3b, b2, '(=2)'],
    ] as const
  ).flatMap(([label, a, b, bareNote]): Row[] => [
    { label: `${label}: server CPU/request`, atrium: a.result.serverCpuUsPerRequest, bare: b.result.serverCpuUsPerRequest, unit: 'µs', bareNote },
    { label: '    latency p50', atrium: a.result.p50Ms, bare: b.result.p50Ms, unit: 'ms', bareNote },
    { label: '    latency p99', atrium: a.result.p99Ms, bare: b.result.p99Ms, unit: 'ms', bareNote },
  ]);

  const allRounds = [...r.rounds].map(([key, list]) => `${key} ${list.map((m) => m.result.rps.toFixed(0)).join('/')}`).join(', ');
  const cores = [...r.rounds].map(([key, list]) => {
    const { result } = best(list);
    return `${key} ${result.serverCores.toFixed(2)}/${result.generatorCores.toFixed(2)}/${result.otherCores.toFixed(2)}`;
  });
  const problems = [
    ...[...r.rounds].flatMap(([key, list]) => list.filter((m) => m.result.errors).map((m) => `${key}: ${m.result.errors} failed requests, first: ${m.result.firstError}`)),
    r.atriumErrorLines ? `Atrium logged ${r.atriumErrorLines} error-level lines during the run` : undefined,
  ].filter(Boolean);

  const cpu = os.cpus();
  return [
    '',
    `Atrium vs bare oidc-provider ${versionOf('oidc-provider')} — node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
    `Load: ${CONCURRENCY} keep-alive connections (undici ${versionOf('undici')}), closed loop, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured;`,
    `      ${ROUNDS} rounds alternating Atrium and bare, best round shown; each server in its own process`,
    `Atrium storage: ${r.backend.description}`,
    `Token format: Atrium: ${r.aFormat}`,
    `              bare:   ${r.bFormat}`,
    '',
    table(rows),
    '',
    'Per request, in the same rounds (server CPU = user + system time of the server process over the measured',
    `window / requests served; Atrium's ${r.backend.env.DATABASE_URL ? "excludes PostgreSQL's" : 'includes the embedded database'}):`,
    table(costRows),
    '',
    'Notes:',
    `  req/s of every round: ${allRounds}`,
    `  cores busy in the best round, server/load generator/other: ${cores.slice(0, 4).join(', ')},`,
    `    ${cores.slice(4).join(', ')}`,
    `    (${cpu.length} cores in all; "other", ±0.2, is ${r.backend.env.DATABASE_URL ? 'PostgreSQL and ' : ''}anything else running on the machine)`,
    `  3a pool churn: ${a3a.churn}`,
    `  3b pool churn: ${a3b.churn}`,
    '  4: Atrium: first request to a tenant created earlier (keys in the database) but never served: tenant lookup,',
    '     keys read and decrypted, Provider built, discovery. Bare: new Provider(...) with pre-generated keys, then discovery.',
    `  5: heapUsed after forced gc, ${HEAP_PROVIDERS} more Providers vs ${HEAP_WARMUP} warm-up ones, each having served one discovery request`,
    `     (Atrium pool size at the end: ${r.aHeap.pooled}; bare Providers alive: ${r.bHeap.providers}). Native key memory outside the V8 heap is not counted.`,
    `  Supplementary: bare with oidc-provider's default opaque client_credentials tokens (kept by the in-memory adapter):`,
    `     ${bOpaque.result.rps.toFixed(0)} tokens/s, ${bOpaque.result.serverCpuUsPerRequest.toFixed(0)} µs CPU/request; ${r.bOpaqueFormat}.`,
    '  Ratio = Atrium / bare: below 1 for throughput, above 1 for latency, CPU or memory, means Atrium costs more.',
    ...(problems.length ? ['', 'Problems:', ...problems.map((p) => `  ${p}`)] : []),
    '',
  ].join('\n');
}

// Ctrl-C or a kill: stop the children and remove the storage before leaving.
let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
    progress(`${signal}: stopping`);
    // main() cannot reach its cleanup while it awaits requests to a live server: stopping
    // the servers fails those requests, and main unwinds through its finally.
    void stopAll();
    setTimeout(() => process.exit(130), 15_000).unref();
  });
}

main().then(
  () => process.exit(interrupted ? 130 : 0),
  (err: unknown) => {
    if (interrupted) process.stderr.write('bench interrupted\n');
    else process.stderr.write(`\nbench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(interrupted ? 130 : 1);
  },
);
