/**
 * Supplementary figures of the full run (or `--supplementary`), after the headline ones and
 * with their servers stopped, on the same database:
 *
 *   S1  heap per pooled Provider: Atrium vs bare oidc-provider, fresh processes with --expose-gc
 *   S2  one tenant's client_credentials tokens on two Atrium instances (same database, same
 *       Redis) vs one, as an interleaved pair
 *   S3  a key rotation made through instance A: how long until instance B serves the new keys
 *
 * S2 and S3 need PostgreSQL (two processes cannot share PGlite) and a Redis; without either
 * they are skipped and the report says why.
 */
import type { Pool } from 'undici';
import { chooseRedis, type Backend } from './backend.ts';
import type { ServerChild } from './children.ts';
import { percentile, serverPool, timedRequest } from './load.ts';
import { measurePropagation, watchEvents } from './multi-instance.ts';
import { formatNumber, formatSpread, measurePair, spreadOf, type RoundSettings } from './pairs.ts';
import { AtriumAdmin, discoveryRequest, startAtrium, startBare, tenantHost, tokenRequest, type Target } from './targets.ts';
import type { AtriumPoolSnapshot } from './atrium-preload.ts';

/** At most this many Providers measured (fewer if the run has fewer tenants). */
const HEAP_PROVIDERS = 200;
/** Tenants served before the heap baseline, so one-time costs (code, caches) are not counted per Provider. */
const HEAP_WARMUP = 5;
const PROPAGATION_SAMPLES = 30;
const POLL_EVERY_MS = 2;
const PROPAGATION_TIMEOUT_MS = 10_000;
const CONCURRENCY = 32;

export interface SupplementaryInput {
  backend: Backend;
  encryptionKey: string;
  /** Tenants with keys (a fresh instance has served none of them); S1 uses up to 205. */
  servedSlugs: readonly string[];
  /** Tenants for S3, rotated there (so nothing after S3 may read them). */
  coldSlugs: readonly string[];
  solo: Target;
  settings: RoundSettings;
  progress: (message: string) => void;
}

async function heapPerProvider(child: ServerChild, pool: Pool, warm: readonly string[], hosts: readonly string[]): Promise<number> {
  const ok = async (host: string) => {
    const res = await timedRequest(pool, discoveryRequest(host));
    if (res.status !== 200) throw new Error(`heap: discovery at ${host}: HTTP ${res.status}`);
  };
  for (const host of warm) await ok(host);
  const before = (await child.ask('heap')).heapUsed!;
  // A few at a time: the figure is about what stays, not about a burst.
  for (let i = 0; i < hosts.length; i += 4) await Promise.all(hosts.slice(i, i + 4).map(ok));
  return ((await child.ask('heap')).heapUsed! - before) / hosts.length;
}

async function heap(input: SupplementaryInput): Promise<string[]> {
  const slugs = input.servedSlugs.slice(0, HEAP_WARMUP + HEAP_PROVIDERS);
  const measured = slugs.length - HEAP_WARMUP;
  const poolMaxSize = slugs.length + 10;
  input.progress(`S1 heap: Atrium with --expose-gc and a pool of ${poolMaxSize}, then bare`);
  const atrium = await startAtrium('atrium-heap', { backendEnv: input.backend.env, poolMaxSize, exposeGc: true, encryptionKey: input.encryptionKey });
  const aPool = serverPool(atrium.child.port, 4);
  const aHost = (slug: string) => tenantHost(atrium, slug);
  const aPer = await heapPerProvider(atrium.child, aPool, slugs.slice(0, HEAP_WARMUP).map(aHost), slugs.slice(HEAP_WARMUP).map(aHost));
  const { size, builds } = (await atrium.child.ask('stats')).stats as AtriumPoolSnapshot;
  await aPool.destroy();
  await atrium.child.stop();

  const bare = await startBare('bare-heap', { exposeGc: true });
  const bPool = serverPool(bare.child.port, 4);
  const bHost = (slug: string) => `${slug}.localhost:${bare.child.port}`;
  const bPer = await heapPerProvider(bare.child, bPool, slugs.slice(0, HEAP_WARMUP).map(bHost), slugs.slice(HEAP_WARMUP).map(bHost));
  await bPool.destroy();
  await bare.child.stop();
  return [
    `S1  heap per pooled Provider (n=${measured}): Atrium ${formatNumber(aPer / 1024)} KiB, bare ${formatNumber(bPer / 1024)} KiB, ratio ${formatNumber(aPer / bPer)}`,
    `    heapUsed after forced gc, before and after serving ${measured} more tenants one discovery each (Atrium's pool at the end: ${size} pooled, ${builds} built).`,
    '    Does not count native key memory outside the V8 heap, nor caches that are not per Provider. One measurement, no rounds (memory is not disturbed by CPU contention).',
    '',
  ];
}

async function instances(input: SupplementaryInput): Promise<string[]> {
  if (!input.backend.env.DATABASE_URL) return ['S2, S3  skipped: the storage is embedded PGlite, which two processes cannot share (set DATABASE_URL or run PostgreSQL on 127.0.0.1:5432)', ''];
  const redis = await chooseRedis();
  if (redis.url === undefined) return [`S2, S3  skipped: ${redis.skipped}`, ''];

  const backendEnv = { ...input.backend.env, REDIS_URL: redis.url };
  input.progress(`S2: starting Atrium A, then B (same database, ${redis.description})`);
  const a = await startAtrium('atrium-A', { backendEnv, encryptionKey: input.encryptionKey });
  const b = await startAtrium('atrium-B', { backendEnv, encryptionKey: input.encryptionKey, sameDeploymentAs: a });
  const aPool = serverPool(a.child.port, CONCURRENCY);
  const bPool = serverPool(b.child.port, CONCURRENCY);
  try {
    const target: Target = { ...input.solo, host: tenantHost(a, 'solo') };
    for (const pool of [aPool, bPool]) {
      const res = await timedRequest(pool, tokenRequest(target));
      if (res.status !== 200) throw new Error(`S2: token: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    }
    const result = await measurePair(
      {
        key: 'S2',
        title: 'client_credentials tokens of one tenant on two Atrium instances vs one (same database, same Redis)',
        exercises: 'the fast path on A and B at once, half the connections each',
        doesNotExercise: 'instances on hosts of their own: both share this machine with the load generator and the database',
        a: { name: '2 instances', server: [a.child, b.child], pool: [aPool, bPool], next: () => tokenRequest(target) },
        b: { name: '1 instance', server: a.child, pool: aPool, next: () => tokenRequest(target) },
        concurrency: CONCURRENCY,
      },
      input.settings,
      input.progress,
    );

    const discovery = await timedRequest(bPool, discoveryRequest(target.host));
    const jwksPath = new URL((JSON.parse(discovery.body) as { jwks_uri: string }).jwks_uri).pathname;
    const slugs = input.coldSlugs.slice(0, PROPAGATION_SAMPLES);
    input.progress(`S3: ${slugs.length} key rotations through A, B's JWKS polled every ${POLL_EVERY_MS} ms`);
    const events = await watchEvents(redis.url, input.backend.env.DATABASE_URL);
    const samples = await measurePropagation({
      admin: new AtriumAdmin(aPool, a),
      a: aPool,
      b: bPool,
      slugs,
      host: (slug) => tenantHost(a, slug),
      jwksPath,
      pollEveryMs: POLL_EVERY_MS,
      timeoutMs: PROPAGATION_TIMEOUT_MS,
      progress: input.progress,
      events,
    }).finally(() => events.close());
    const ms = samples.map((x) => x.ms).sort((x, y) => x - y);
    const errors = [a.child.errorLines, b.child.errorLines];
    return [
      `S2  ${result.pair.title}`,
      `    2 instances / 1 instance, median of per-round ratios: ${formatSpread(spreadOf(result.rounds.map((x) => x.ratio)))}`,
      `    rounds (order, ratio): ${result.rounds.map((x) => `${x.order} ${formatNumber(x.ratio)}`).join(', ')}`,
      '    On one 2-core machine shared with the load generator and PostgreSQL, 2 instances cannot reach 2×: this says how much of',
      '    the machine a second instance can use, not how Atrium scales on hosts of its own.',
      `S3  key rotation through A → new keys in B's JWKS (n=${ms.length}): median ${formatNumber(percentile(ms, 50))} ms, p99 ${formatNumber(percentile(ms, 99))} ms, fastest ${formatNumber(ms[0] ?? NaN)} ms`,
      `    from A's answer to the rotate request to B's first JWKS answer listing both new keys (event over ${redis.description}, B re-reading`,
      `    the tenant and rebuilding its Provider, up to one ${POLL_EVERY_MS} ms poll). Error-level log lines: A ${errors[0]}, B ${errors[1]}.`,
      '',
    ];
  } finally {
    await Promise.all([aPool.destroy(), bPool.destroy()]);
    await Promise.all([a.child.stop(), b.child.stop()]);
  }
}

export async function supplementary(input: SupplementaryInput): Promise<string[]> {
  return [...(await heap(input)), ...(await instances(input))];
}

