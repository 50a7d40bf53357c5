/**
 * `npm run bench`: Atrium against a bare single-tenant oidc-provider, same machine, same run.
 *
 *   1. client_credentials tokens/s on one tenant
 *   2. discovery requests/s on one tenant
 *   3. both again spread uniformly over 200 tenants with a Provider pool of 50
 *      (so most requests evict one Provider and build another); a supplementary note
 *      measures 3a's churn on bare oidc-provider too (an LRU of 50 Providers, 200 hosts)
 *   4. latency of the first request to a cold tenant (keys exist, Provider not pooled)
 *   5. heap per pooled Provider
 *   6. figure 1 again with two Atrium instances (same database, same Redis) against one
 *   7. how long a key rotation made through one instance takes to be served by the other
 *
 * Figures 6 and 7 need PostgreSQL (two processes cannot share PGlite) and a Redis
 * (REDIS_URL, else 127.0.0.1:6379); without either they are skipped, and the report says why.
 *
 * Each server runs in its own process (Atrium: its real src/main.ts), the load generator
 * here, so the generator never shares a server's event loop. Only one server is under load
 * at a time. The machine may be shared (2 cores, other work running), so the throughput
 * figures are measured in rounds that alternate Atrium and bare, and each ratio is taken
 * within a round (Atrium's round over the bare round next to it), then reported as the
 * median and range over the rounds: background work moves both sides of one ratio alike,
 * and the range shows how much it moved. The best round alone would hide that noise. The
 * cold-start samples alternate the same way.
 *
 * Progress goes to stderr, the report to stdout. Children, databases and temporary
 * directories are removed however the run ends.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import { chooseBackend, chooseRedis, type Backend } from './backend.ts';
import { stopAll, type ServerChild } from './children.ts';
import { percentile, runLoad, serverPool, timedRequest, type LoadResult, type RequestSpec } from './load.ts';
import { measurePropagation, watchEvents, type PropagationSample } from './multi-instance.ts';
import { formatValue, plainTable, table, tokenFormat, type Row } from './report.ts';
import { AtriumAdmin, ROOT, discoveryRequest, startAtrium, startBare, tenantHost, tokenRequest, type AtriumChild, type Target } from './targets.ts';
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
/** Figure 7: rotations measured, one per tenant (cold tenants, never served by these instances). */
const PROPAGATION_SAMPLES = 30;
const POLL_EVERY_MS = 2;
const PROPAGATION_TIMEOUT_MS = 10_000;

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
  /** The servers under load; with several, the load is split evenly (one pool each). */
  servers: readonly ServerChild[];
  pools: readonly Pool[];
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
  const [first] = figure.servers as [ServerChild];
  const before = figure.poolChurn ? await poolStats(first) : undefined;
  const serverCpuUs = async () => (await Promise.all(figure.servers.map((s) => s.ask('cpu')))).reduce((sum, a) => sum + a.cpuUs!, 0);
  const result = await runLoad(figure.pools, { next: figure.next, concurrency: CONCURRENCY, warmupMs: WARMUP_MS, durationMs: DURATION_MS, serverCpuUs });
  const churn = before ? describeChurn(before, await poolStats(first), (WARMUP_MS + DURATION_MS) / 1000) : undefined;
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

/** The round with the median throughput: a typical round, neither the luckiest nor the most disturbed. */
function medianRound(rounds: readonly Measured[]): Measured {
  const sorted = [...rounds].sort((a, b) => a.result.rps - b.result.rps);
  return sorted[(sorted.length - 1) >> 1]!;
}

/** a's round i over b's round i: the two were measured back to back, under the same other work. */
function roundRatios(a: readonly Measured[], b: readonly Measured[], value: (m: Measured) => number = (m) => m.result.rps): number[] {
  return a.map((m, i) => value(m) / value(b[i]!));
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
  if (!lookups) return 'no Provider asked for (the pool was not used)';
  const hitRate = ((after.hits - before.hits) / lookups) * 100;
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
// Many instances, one truth: two Atrium processes on one database and one Redis

type MultiInstance =
  | { skipped: string }
  | {
      skipped?: undefined;
      redis: string;
      rounds: Map<string, Measured[]>;
      samples: PropagationSample[];
      /** Error-level log lines of A and B during this phase. */
      errorLines: [number, number];
    };

const ONE_INSTANCE = '1 instance';
const TWO_INSTANCES = '2 instances';

/**
 * Two fresh instances of one deployment (same database as figures 1-5, same master key,
 * PUBLIC_URL, bootstrap credentials and Redis), A started first. Tenants are addressed by
 * the Host their issuer names, whichever instance the request goes to, as behind a load
 * balancer.
 */
async function multiInstance(backend: Backend, encryptionKey: string, solo: Target): Promise<MultiInstance> {
  if (!backend.env.DATABASE_URL) return { skipped: 'the storage is embedded PGlite, which two processes cannot share (set DATABASE_URL or run PostgreSQL on 127.0.0.1:5432)' };
  const redis = await chooseRedis();
  if (redis.url === undefined) return { skipped: redis.skipped };

  const backendEnv = { ...backend.env, REDIS_URL: redis.url };
  progress(`many instances: starting Atrium A, then B (same database, ${redis.description})`);
  const a: AtriumChild = await startAtrium('atrium-A', { backendEnv, poolMaxSize: POOL_SIZE, encryptionKey });
  const b: AtriumChild = await startAtrium('atrium-B', { backendEnv, poolMaxSize: POOL_SIZE, encryptionKey, sameDeploymentAs: a });
  const aPool = openPool(a.child.port);
  const bPool = openPool(b.child.port);

  // Figure 1's tenant and client, created by the first Atrium, served by both.
  const target: Target = { ...solo, host: tenantHost(a, 'solo') };
  for (const [name, pool] of [['A', aPool], ['B', bPool]] as const) {
    const body = await expectOk(pool, tokenRequest(target), `token from ${name}`);
    if (!tokenFormat(body).startsWith('JWT')) throw new Error(`token from ${name}: ${tokenFormat(body)}`);
  }
  const rounds = await measureInRounds([
    { key: ONE_INSTANCE, servers: [a.child], pools: [aPool], next: () => tokenRequest(target) },
    { key: TWO_INSTANCES, servers: [a.child, b.child], pools: [aPool, bPool], next: () => tokenRequest(target) },
  ]);

  const slugList = slugs('cold', PROPAGATION_SAMPLES);
  const discovery = JSON.parse(await expectOk(bPool, discoveryRequest(tenantHost(a, 'solo')), 'discovery on B')) as { jwks_uri: string };
  progress(`propagation: ${PROPAGATION_SAMPLES} key rotations through A, B's JWKS polled every ${POLL_EVERY_MS} ms`);
  const events = await watchEvents(redis.url);
  const samples = await measurePropagation({
    admin: new AtriumAdmin(aPool, a),
    a: aPool,
    b: bPool,
    slugs: slugList,
    host: (slug) => tenantHost(a, slug),
    jwksPath: new URL(discovery.jwks_uri).pathname,
    pollEveryMs: POLL_EVERY_MS,
    timeoutMs: PROPAGATION_TIMEOUT_MS,
    progress,
    events,
  }).finally(() => events.close());

  const errorLines: [number, number] = [a.child.errorLines, b.child.errorLines];
  await Promise.all([closePool(aPool), closePool(bPool)]);
  await Promise.all([a.child.stop(), b.child.stop()]);
  return { redis: redis.description, rounds, samples, errorLines };
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
    const [atrium, bare] = await Promise.all([startAtrium('atrium', { backendEnv: backend.env, poolMaxSize: POOL_SIZE }), startBare('bare', { poolMaxSize: POOL_SIZE })]);
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

    // Supplementary: figure 3a's churn on bare oidc-provider (an LRU of POOL_SIZE Providers over as many hosts).
    const barePoolHosts = slugs('pool-load', SPREAD_TENANTS).map((s) => `${s}.localhost:${bare.child.port}`);
    const rounds = await measureInRounds([
      { key: 'Atrium 1', servers: [atrium.child], pools: [aPool], next: () => tokenRequest(solo) },
      { key: 'bare 1', servers: [bare.child], pools: [bPool], next: () => tokenRequest(bare.target) },
      { key: 'Atrium 2', servers: [atrium.child], pools: [aPool], next: () => discoveryRequest(solo.host) },
      { key: 'bare 2', servers: [bare.child], pools: [bPool], next: () => discoveryRequest(bare.target.host) },
      { key: 'Atrium 3a', servers: [atrium.child], pools: [aPool], next: () => tokenRequest(pick(spread)), poolChurn: true },
      { key: 'Atrium 3b', servers: [atrium.child], pools: [aPool], next: () => discoveryRequest(pick(spread).host), poolChurn: true },
      { key: 'bare opaque', servers: [bare.child], pools: [bPool], next: () => tokenRequest(bare.opaqueTarget) },
      { key: 'bare churn', servers: [bare.child], pools: [bPool], next: () => tokenRequest({ ...bare.target, host: pick(barePoolHosts) }) },
      // Supplementary: figure 1 through the tenant's Provider. An extra parameter, which
      // oidc-provider ignores, makes the direct issuer leave the request to it.
      { key: 'Atrium 1 via Provider', servers: [atrium.child], pools: [aPool], next: () => ({ ...tokenRequest(solo), body: 'grant_type=client_credentials&via=provider' }) },
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

    // Last, so that rotating the cold tenants' keys changes nothing the figures above read.
    const multi = await multiInstance(backend, atrium.encryptionKey, solo);
    if (multi.skipped) progress(`figures 6 and 7 skipped: ${multi.skipped}`);

    process.stdout.write(
      report({ backend, rounds, aCold, bCold, aHeap, bHeap, aFormat, bFormat, bOpaqueFormat, atriumErrorLines, multi }),
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
  multi: MultiInstance;
}

function report(r: Results): string {
  const get = (key: string) => medianRound(r.rounds.get(key)!);
  const ratios = (a: string, b: string, value?: (m: Measured) => number) => roundRatios(r.rounds.get(a)!, r.rounds.get(b)!, value);
  const [a1, b1, a2, b2, a3a, a3b, bOpaque, bChurn, a1Provider] = ['Atrium 1', 'bare 1', 'Atrium 2', 'bare 2', 'Atrium 3a', 'Atrium 3b', 'bare opaque', 'bare churn', 'Atrium 1 via Provider'].map(get) as [Measured, Measured, Measured, Measured, Measured, Measured, Measured, Measured, Measured];
  const spreadLabel = `${SPREAD_TENANTS} tenants, pool ${POOL_SIZE}`;

  const rows: Row[] = [
    { label: '1. client_credentials tokens/s, 1 tenant', atrium: a1.result.rps, bare: b1.result.rps, unit: 'req/s', roundRatios: ratios('Atrium 1', 'bare 1') },
    { label: '2. discovery requests/s, 1 tenant', atrium: a2.result.rps, bare: b2.result.rps, unit: 'req/s', roundRatios: ratios('Atrium 2', 'bare 2') },
    { label: `3a. tokens/s, ${spreadLabel}`, atrium: a3a.result.rps, bare: b1.result.rps, unit: 'req/s', bareNote: '(=1)', roundRatios: ratios('Atrium 3a', 'bare 1') },
    { label: `3b. discovery/s, ${spreadLabel}`, atrium: a3b.result.rps, bare: b2.result.rps, unit: 'req/s', bareNote: '(=2)', roundRatios: ratios('Atrium 3b', 'bare 2') },
    { label: `4. cold first request, median (${COLD_TENANTS} tenants)`, atrium: percentile(r.aCold.first, 50), bare: percentile(r.bCold.first, 50), unit: 'ms' },
    { label: '4. cold first request, p95', atrium: percentile(r.aCold.first, 95), bare: percentile(r.bCold.first, 95), unit: 'ms' },
    { label: '   (second request, median)', atrium: percentile(r.aCold.second, 50), bare: percentile(r.bCold.second, 50), unit: 'ms' },
    { label: `5. heap per pooled Provider (N=${HEAP_PROVIDERS})`, atrium: r.aHeap.perProvider / 1024, bare: r.bHeap.perProvider / 1024, unit: 'KiB' },
  ];

  // Per-request cost in the median rounds; figure 3's bare values are figures 1 and 2.
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
    const { result } = medianRound(list);
    return `${key} ${result.serverCores.toFixed(2)}/${result.generatorCores.toFixed(2)}/${result.otherCores.toFixed(2)}`;
  });
  const problems = [
    ...[...r.rounds].flatMap(([key, list]) => list.filter((m) => m.result.errors).map((m) => `${key}: ${m.result.errors} failed requests, first: ${m.result.firstError}`)),
    r.atriumErrorLines ? `Atrium logged ${r.atriumErrorLines} error-level lines during the run` : undefined,
  ].filter(Boolean);
  const multi = multiReport(r.multi);
  problems.push(...multi.problems);

  const cpu = os.cpus();
  return [
    '',
    `Atrium vs bare oidc-provider ${versionOf('oidc-provider')} — node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model.trim()})`,
    `Load: ${CONCURRENCY} keep-alive connections (undici ${versionOf('undici')}), closed loop, ${WARMUP_MS / 1000} s warm-up + ${DURATION_MS / 1000} s measured;`,
    `      ${ROUNDS} rounds alternating Atrium and bare; values: the median round; Atrium/bare: the median (and range) of the`,
    '      per-round ratios, each round of Atrium over the bare round measured next to it; each server in its own process',
    `Atrium storage: ${r.backend.description}`,
    'Atrium rate limits off (RATE_LIMITS_ENABLED=false): the bare server has none, and one client at full speed would be refused',
    `Token format: Atrium: ${r.aFormat}`,
    `              bare:   ${r.bFormat}`,
    '',
    table(rows),
    '',
    'Per request, in the median rounds (server CPU = user + system time of the server process over the measured',
    `window / requests served; Atrium's ${r.backend.env.DATABASE_URL ? "excludes PostgreSQL's" : 'includes the embedded database'}):`,
    table(costRows),
    '',
    'Notes:',
    `  req/s of every round: ${allRounds}`,
    `  cores busy in the median round, server/load generator/other: ${cores.slice(0, 4).join(', ')},`,
    `    ${cores.slice(4).join(', ')}`,
    `    (${cpu.length} cores in all; "other", ±0.2, is ${r.backend.env.DATABASE_URL ? 'PostgreSQL and ' : ''}anything else running on the machine)`,
    '  1, 3a, 6: Atrium answers a plain, valid client_credentials request without a Provider (src/oidc/client-credentials-issuer.ts),',
    "     with the token its Provider would issue; anything else (errors included) goes to the Provider. These figures measure that path.",
    `  3a pool churn: ${a3a.churn}`,
    `  3b pool churn: ${a3b.churn}`,
    '  4: Atrium: first request to a tenant created earlier (keys in the database) but never served: tenant lookup,',
    '     keys read and decrypted, Provider built, discovery. Bare: new Provider(...) with pre-generated keys, then discovery.',
    `  5: heapUsed after forced gc, ${HEAP_PROVIDERS} more Providers vs ${HEAP_WARMUP} warm-up ones, each having served one discovery request`,
    `     (Atrium pool size at the end: ${r.aHeap.pooled}; bare Providers alive: ${r.bHeap.providers}). Native key memory outside the V8 heap is not counted.`,
    `  Supplementary: bare with oidc-provider's default opaque client_credentials tokens (kept by the in-memory adapter):`,
    `     ${bOpaque.result.rps.toFixed(0)} tokens/s, ${bOpaque.result.serverCpuUsPerRequest.toFixed(0)} µs CPU/request; ${r.bOpaqueFormat}.`,
    `  Supplementary: bare with figure 3a's churn (tokens over ${SPREAD_TENANTS} hosts, an LRU of ${POOL_SIZE} Providers, a miss builds one):`,
    `     ${bChurn.result.rps.toFixed(0)} tokens/s (${(bChurn.result.rps / b1.result.rps).toFixed(2)} of bare 1), ${bChurn.result.serverCpuUsPerRequest.toFixed(0)} µs CPU/request;` +
      ` Atrium 3a / this = ${(a3a.result.rps / bChurn.result.rps).toFixed(2)}. The ceiling of 3a for anything that builds an oidc-provider per miss.`,
    "  Supplementary: figure 1 through the tenant's Provider (the same request with an extra parameter, which the direct issuer leaves to it):",
    `     ${a1Provider.result.rps.toFixed(0)} tokens/s (${(a1Provider.result.rps / b1.result.rps).toFixed(2)} of bare 1), ${a1Provider.result.serverCpuUsPerRequest.toFixed(0)} µs CPU/request.`,
    '  Ratio = Atrium / bare: below 1 for throughput, above 1 for latency, CPU or memory, means Atrium costs more.',
    '',
    ...multi.lines,
    ...(problems.length ? ['', 'Problems:', ...problems.map((p) => `  ${p}`)] : []),
    '',
  ].join('\n');
}

/** Figures 6 and 7, their notes, and what went wrong in that phase. */
function multiReport(m: MultiInstance): { lines: string[]; problems: string[] } {
  const title = 'Many instances, one truth (figures 6 and 7): two Atrium processes, one PostgreSQL database, one Redis';
  if (m.skipped !== undefined) return { lines: [title, `  skipped: ${m.skipped}.`], problems: [] };

  const [one, two] = [medianRound(m.rounds.get(ONE_INSTANCE)!), medianRound(m.rounds.get(TWO_INSTANCES)!)] as [Measured, Measured];
  const throughput = table(
    [
      { label: '6. client_credentials tokens/s, 1 tenant', atrium: one.result.rps, bare: two.result.rps, unit: 'req/s', roundRatios: roundRatios(m.rounds.get(ONE_INSTANCE)!, m.rounds.get(TWO_INSTANCES)!) },
      { label: '   server CPU/request (2 instances: A + B)', atrium: one.result.serverCpuUsPerRequest, bare: two.result.serverCpuUsPerRequest, unit: 'µs' },
      { label: '   latency p50', atrium: one.result.p50Ms, bare: two.result.p50Ms, unit: 'ms' },
      { label: '   latency p99', atrium: one.result.p99Ms, bare: two.result.p99Ms, unit: 'ms' },
    ],
    { figure: 'Figure', a: ONE_INSTANCE, b: TWO_INSTANCES, ratio: '2/1', ratioOf: 'b/a' },
  );

  const ms = m.samples.map((x) => x.ms).sort((a, b) => a - b);
  const rotateMs = m.samples.map((x) => x.rotateMs).sort((a, b) => a - b);
  const eventLead = m.samples.map((x) => x.eventBeforeAnswerMs).filter(Number.isFinite).sort((a, b) => a - b);
  const polls = m.samples.map((x) => x.polls).sort((a, b) => a - b);
  const n = m.samples.length;
  const msCells = (sorted: number[]) => [percentile(sorted, 50), percentile(sorted, 99), sorted[0] ?? NaN].map((v) => formatValue(v, 'ms'));
  const propagation = plainTable(
    ['Figure', 'median', 'p99', 'fastest'],
    [
      [`7. key rotation through A → new keys in B's JWKS (n=${n})`, ...msCells(ms)],
      ["   (A's answer to the rotate request itself)", ...msCells(rotateMs)],
      ['   (event on Redis → A\'s answer, as a subscriber saw it)', ...msCells(eventLead)],
    ],
  );

  const nCpus = os.cpus().length;
  const coresOf = ({ result }: Measured) => `${result.serverCores.toFixed(2)}/${result.generatorCores.toFixed(2)}/${result.otherCores.toFixed(2)}`;
  // What one instance and its load generator need, against what the rest of the machine's work leaves them.
  const needed = one.result.serverCores + one.result.generatorCores;
  const left = nCpus - one.result.otherCores;
  const ceiling = Math.min(2, left / needed);
  const [aShare, bShare] = two.result.okPerPool.map((ok) => ok / (DURATION_MS / 1000)) as [number, number];
  const roundsOf = (key: string) => m.rounds.get(key)!.map((x) => x.result.rps.toFixed(0)).join('/');
  const firstPoll = m.samples.filter((x) => x.polls === 1).length;
  const failures = m.samples.reduce((sum, x) => sum + x.failures, 0);
  const oldestView = Math.max(...m.samples.map((x) => x.bViewAgeMs));

  const lines = [
    title,
    `(separate processes A and B, same database as above, same ENCRYPTION_KEY, PUBLIC_URL and bootstrap client; ${m.redis})`,
    '',
    throughput,
    '',
    propagation,
    '',
    'Notes:',
    `  6: figure 1's request (tenant solo, client_secret_basic, grant_type=client_credentials), ${CONCURRENCY} connections, Host = the tenant's`,
    `     issuer host whichever instance serves it. 1 instance: all ${CONCURRENCY} to A (B running, idle); 2 instances: ${CONCURRENCY / 2} to A, ${CONCURRENCY / 2} to B.`,
    `     Fresh processes; ${ROUNDS} rounds alternating 1 and 2 instances, the median round shown. Server CPU/request with 2 instances =`,
    '     CPU time of A + B / requests both served (PostgreSQL and Redis not counted).',
    `  6 req/s of every round: ${ONE_INSTANCE} ${roundsOf(ONE_INSTANCE)}, ${TWO_INSTANCES} ${roundsOf(TWO_INSTANCES)};`,
    `     median 2-instance round: A ${aShare.toFixed(0)} req/s, B ${bShare.toFixed(0)} req/s`,
    `  6 cores busy in the median round, server(s)/load generator/other: ${ONE_INSTANCE} ${coresOf(one)}, ${TWO_INSTANCES} ${coresOf(two)}`,
    `  6 ceiling: this machine has ${nCpus} cores for everything: the Atrium processes, the load generator (this process, sharing`,
    `     them) and the rest ("other": PostgreSQL, Redis, anything else running). In the 1-instance round Atrium + generator`,
    `     used ${needed.toFixed(2)} cores and other work ${one.result.otherCores.toFixed(2)}, so the bench had ~${left.toFixed(2)} cores: 2 instances can reach at most`,
    `     ~${ceiling.toFixed(2)}× one instance here (2× would need ~${(2 * needed).toFixed(2)} cores free). The ratio says how much of this machine a second`,
    '     instance can use, not how Atrium scales with instances on hosts of their own.',
    `  7: each sample is a tenant neither instance had served: its JWKS read through A, then through B (B's tenant record read`,
    `     and Provider built at most ${oldestView.toFixed(0)} ms before A answered; B's tenant cache keeps a record 3 s, so without the event`,
    `     B would have gone on serving the old keys for seconds). Then POST /api/v1/tenants/:slug/keys/rotate to A, and from A's`,
    `     answer on, B's JWKS polled every ~${POLL_EVERY_MS} ms until it listed both new current kids: time = A's answer → that answer of B`,
    '     (event over Redis, B dropping the record, reading the new version, rebuilding the Provider; up to one poll interval).',
    `     ${firstPoll}/${n} were already served on B's first poll: A publishes the event before it answers, so B usually has it`,
    '     before A\'s client has the answer, and the time is then B re-reading the tenant and rebuilding its Provider on that first',
    `     request. Polls per sample: median ${percentile(polls, 50)}, most ${polls.at(-1)}. With ${n} samples, p99 is the slowest one.`,
    `     "event on Redis → A's answer": the bench subscribes to the instances' channel too and notes when each rotation is announced;`,
    `     positive = announced before A answered (${eventLead.length}/${n} announcements seen).`,
    '  The instances publish on Redis channel atrium:events; other Atrium processes on the same Redis would see these events.',
  ];
  const problems = [
    ...[...m.rounds].flatMap(([key, list]) => list.filter((x) => x.result.errors).map((x) => `${key}: ${x.result.errors} failed requests, first: ${x.result.firstError}`)),
    failures ? `figure 7: B answered ${failures} JWKS polls with an error status` : undefined,
    m.errorLines[0] || m.errorLines[1] ? `Atrium A / B logged ${m.errorLines[0]} / ${m.errorLines[1]} error-level lines in figures 6 and 7` : undefined,
  ].filter((p): p is string => Boolean(p));
  return { lines, problems };
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
