/**
 * `npm run bench` (full, ~15 minutes on a quiet 2-core machine) or `npm run bench -- --quick`
 * (under 2 minutes: fewer and shorter rounds, 200 tenants). `--rounds=N` overrides the
 * round count. What each figure means: bench/README.md.
 *
 * Every headline figure is a pair (pairs.ts): side A against side B, in interleaved rounds
 * (A then B, then B then A, ...), reported as the median of the per-round ratios A/B with
 * their spread; never the best round. Each pair compares like with like:
 *
 *   F1  client_credentials through Atrium's Provider   vs bare oidc-provider 9, same request
 *   F2  Atrium's client_credentials fast path          vs the same bare oidc-provider
 *   F3  discovery + JWKS + token mix over N tenants    vs the same mix on one tenant (Atrium both)
 *   F4  requests that need a Provider over N tenants   vs one tenant (Atrium both); Providers built
 *       F4/N/bare: the same on bare oidc-provider, N Providers in one process vs one (a reference)
 *   F5  refresh-token grants                           vs bare oidc-provider's (in-memory adapter);
 *                                                         PostgreSQL transactions per grant
 *       F5/bare-pg: bare oidc-provider's refresh on PostgreSQL vs in memory (a reference)
 *   F6  full password sign-in                          vs argon2id verification alone, same parameters
 *   F6/bare  bare oidc-provider's sign-in (fewest pages)  vs the same bound: F6's reference
 *   F7  tenant lifecycle: creation p50/p95 (paced, and in a burst beyond the key pool); first
 *       token after creation; cold first discovery vs a bare new Provider; tenant list, last
 *       page vs first, at every tenant the run created
 *
 * N = 200, 2,000 and 10,000 (full) or 200 (--quick). `--lifecycle-only` runs F7 alone (on
 * the quick run's 200 tenants); `--key-pool-size=N` starts Atrium with SIGNING_KEY_POOL_SIZE=N
 * (0: every creation generates its keys then, as before the pool).
 *
 * Each server runs in its own process
 * (Atrium: its real src/main.ts), the load generator here. Progress goes to stderr, the
 * report to stdout. Children, databases and temporary directories are removed however the
 * run ends.
 */
import os from 'node:os';
import { readFileSync } from 'node:fs';
import type { Pool } from 'undici';
import type * as oidc from 'openid-client';
import { REDIRECT_URI } from '../test/support/fixtures.ts';
import { chooseBackend, type Backend } from './backend.ts';
import { stopAll, type ServerChild } from './children.ts';
import { discoverFor, refreshOperation, refreshTokenBySignIn, signInOnce, type SignInUser } from './flows.ts';
import { mapLimit, percentile, serverPool, timedRequest, type RequestSpec } from './load.ts';
import { formatNumber, formatSpread, measurePair, median, spreadOf, type Pair, type PairResult, type RoundSettings, type Side } from './pairs.ts';
import { formatMemory, tokenFormat } from './report.ts';
import { AtriumAdmin, METRICS_TOKEN, ROOT, discoveryRequest, startAtrium, startBare, tenantHost, tokenRequest, type AtriumChild, type BareChild, type Target } from './targets.ts';
import type { AtriumPoolSnapshot } from './atrium-preload.ts';
import { supplementary } from './supplementary.ts';

const QUICK = process.argv.includes('--quick');
const LIFECYCLE_ONLY = process.argv.includes('--lifecycle-only');
/** Heap per Provider and the two-instance figures (supplementary.ts): in the full run, or asked for. */
const SUPPLEMENTARY = process.argv.includes('--supplementary') || (!QUICK && !LIFECYCLE_ONLY && !process.argv.some((a) => a.startsWith('--only=')));
const roundsArg = process.argv.find((a) => a.startsWith('--rounds='));
const SETTINGS: RoundSettings = {
  rounds: roundsArg ? Math.max(1, Number(roundsArg.slice('--rounds='.length)) || 1) : QUICK ? 3 : 5,
  warmupMs: QUICK ? 300 : 1_000,
  durationMs: QUICK ? 1_000 : 3_000,
};
/**
 * `--only=F5,F6`: only the figures whose key is, or starts with, one of these (F3 matching every
 * F3/N; F7 only when named; the supplementary figures only with --supplementary). `--lifecycle-only`
 * is `--only=F7`. Default: every figure.
 */
const onlyArg = process.argv.find((a) => a.startsWith('--only='));
const ONLY = LIFECYCLE_ONLY ? ['F7'] : onlyArg ? onlyArg.slice('--only='.length).split(',').map((k) => k.trim().toUpperCase()).filter(Boolean) : undefined;
const selected = (key: string) => !ONLY || ONLY.some((k) => key === k || key.startsWith(`${k}/`));
/**
 * The reference pairs (F4/N/bare, F5/bare-pg, F6/bare: bare oidc-provider against itself or the
 * bound) run in the full run, when --only selects them, or with --references; the quick run
 * leaves them out to stay under 2 minutes.
 */
const isReference = (key: string) => key.includes('/bare');
const REFERENCES = !QUICK || ONLY !== undefined || process.argv.includes('--references');
const keyPoolArg = process.argv.find((a) => a.startsWith('--key-pool-size='));
const KEY_POOL_SIZE = keyPoolArg === undefined ? undefined : Number(keyPoolArg.slice('--key-pool-size='.length));
if (KEY_POOL_SIZE !== undefined && !(Number.isInteger(KEY_POOL_SIZE) && KEY_POOL_SIZE >= 0)) throw new Error('--key-pool-size: a whole number, 0 or more');
/** `--spreads=200,2000`: the N of F3 and F4 (default: 200 quick, 200, 2,000 and 10,000 full). F7's list paging pages through the spread tenants too. */
const spreadsArg = process.argv.find((a) => a.startsWith('--spreads='));
const DEFAULT_SPREADS = spreadsArg ? spreadsArg.slice('--spreads='.length).split(',').map((v) => Math.max(1, Number(v) || 1)) : QUICK ? [200] : [200, 2_000, 10_000];
const SPREADS = selected('F3') || selected('F4') || selected('F7') ? DEFAULT_SPREADS : [];
/** Keep-alive connections for the single-request figures. */
const HTTP_CONCURRENCY = 32;
/** Workers for the refresh and sign-in figures (each a chain of dependent requests). */
const FLOW_CONCURRENCY = 4;
/** F6 measures each side at least this long: a sign-in can take a second on a busy machine. */
const FLOW_MIN_DURATION_MS = QUICK ? 2_500 : 4_000;
/** Tenants created one at a time and timed; then each one's first discovery is the cold start. */
const CREATION_SAMPLES = QUICK ? 20 : 200;
/** The pause after each paced creation: Atrium's key pool refills after 250 ms without a take. */
const CREATION_PACE_MS = 500;
/** Tenants created back to back, more than the key pool holds (its default is 8). */
const BURST_SAMPLES = QUICK ? 20 : 50;
/** Tenants created, given a machine client, and asked for a token at once. */
const FIRST_TOKEN_SAMPLES = QUICK ? 10 : 30;
const PAGING_SAMPLES = QUICK ? 10 : 30;
const PAGE_SIZE = 50;
const PASSWORD = 'bench-correct-horse-battery';

const started = performance.now();
function progress(message: string): void {
  process.stderr.write(`[bench ${((performance.now() - started) / 1000).toFixed(0).padStart(3)}s] ${message}\n`);
}

const pools = new Set<Pool>();
function openPool(port: number): Pool {
  const pool = serverPool(port, HTTP_CONCURRENCY);
  pools.add(pool);
  return pool;
}

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
const slugs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${String(i).padStart(5, '0')}`);

async function expectOk(pool: Pool, spec: RequestSpec, what: string): Promise<string> {
  const res = await timedRequest(pool, spec);
  if (res.status !== 200) throw new Error(`${what}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
  return res.body;
}

// ---------------------------------------------------------------------------------------
// What the Atrium child tells about itself

async function poolStats(child: ServerChild): Promise<AtriumPoolSnapshot> {
  const stats = (await child.ask('stats')).stats as AtriumPoolSnapshot | undefined;
  if (!stats) throw new Error('the Atrium probe has not seen the Provider pool yet');
  return stats;
}

/** Providers built so far: the pool's own counter (ProviderPool.stats.builds). */
const providerBuilds = (child: ServerChild) => async () => ({ providersBuilt: (await poolStats(child)).builds });

/** The transactions histogram of /token requests (storage/database.ts counts them per request). */
function tokenTransactions(atrium: AtriumChild, pool: Pool) {
  return async (): Promise<Record<string, number>> => {
    const text = await expectOk(pool, { method: 'GET', path: '/metrics', headers: { host: new URL(atrium.publicUrl).host, authorization: `Bearer ${METRICS_TOKEN}` } }, 'metrics');
    const read = (measure: string, suffix: string) => Number(new RegExp(`^atrium_db_${measure}_per_request_${suffix}\\{route_class="oidc-token"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    return { transactions: read('transactions', 'sum'), roundTrips: read('round_trips', 'sum'), tokenRequests: read('transactions', 'count') };
  };
}

// ---------------------------------------------------------------------------------------
// Requests

const JWKS_PATH = '/jwks';
/** An extra parameter oidc-provider ignores: the fast path leaves such a request to the Provider. */
const viaProvider = (target: Target): RequestSpec => ({ ...tokenRequest(target), body: 'grant_type=client_credentials&via=provider' });
const jwksRequest = (host: string): RequestSpec => ({ method: 'GET', path: JWKS_PATH, headers: { host } });
/** Discovery, JWKS or a (fast path) client_credentials token, one of the three at random. */
function mixRequest(target: Target): RequestSpec {
  const which = Math.floor(Math.random() * 3);
  return which === 0 ? discoveryRequest(target.host) : which === 1 ? jwksRequest(target.host) : tokenRequest(target);
}

// ---------------------------------------------------------------------------------------
// The pairs

interface World {
  atrium: AtriumChild;
  bare: BareChild;
  aPool: Pool;
  bPool: Pool;
  solo: Target;
  spread: Target[];
  signIn: SignInUser;
  signInConfig: oidc.Configuration;
  /** F6/bare's sign-in: bare oidc-provider's fewest pages (bare-sign-in-pages.ts). */
  bareSignIn: SignInUser;
  bareSignInConfig: oidc.Configuration;
  atriumRefreshTokens: string[];
  bareRefreshTokens: string[];
  /** Refresh tokens of bare's twin on PostgreSQL (F5/bare-pg); empty when Atrium's storage is PGlite. */
  bareDurableRefreshTokens: string[];
}

/**
 * One request of each of the figure's kinds to every tenant, 32 tenants at a time, before a spread figure's
 * rounds: N busy tenants are tenants that have been served before. Prints its time and, on
 * Atrium, the Providers it built; the rounds' own builds are printed per run as ever.
 */
function warmPass(pool: Pool, tenants: readonly Target[], specs: readonly ((t: Target) => RequestSpec)[], builds?: () => Promise<number>) {
  return async (): Promise<string> => {
    const built = await builds?.();
    const t0 = performance.now();
    let failed = 0;
    await mapLimit(tenants, HTTP_CONCURRENCY, async (t) => {
      for (const spec of specs) if ((await timedRequest(pool, spec(t))).status !== 200) failed++;
    });
    const s = (performance.now() - t0) / 1000;
    const providers = builds ? `, ${(await builds()) - built!} Providers built` : '';
    return `${(tenants.length * specs.length).toLocaleString('en-US')} requests (each kind once per tenant) in ${s.toFixed(1)} s${providers}${failed ? `, ${failed} FAILED` : ''}`;
  };
}

function pairs(w: World): Pair[] {
  const atriumSide = (name: string, more: Partial<Side>): Side => ({ name, server: w.atrium.child, pool: w.aPool, counters: providerBuilds(w.atrium.child), ...more });
  const bareSide = (more: Partial<Side>): Side => ({ name: 'bare', server: w.bare.child, pool: w.bPool, ...more });
  /** F6's bound: an HTTP request to the bare server that only verifies the password (argon2id). */
  const argon2Bound = (): Side =>
    bareSide({
      name: 'argon2id only',
      operation: async () => {
        const res = await w.bPool.request({ method: 'POST', path: '/bench/argon2', headers: { host: w.bare.target.host }, body: PASSWORD });
        await res.body.dump();
        if (res.statusCode !== 200) throw new Error(`argon2 bound: HTTP ${res.statusCode}`);
      },
    });
  const atriumWarmPass = (tenants: readonly Target[], specs: readonly ((t: Target) => RequestSpec)[]) => warmPass(w.aPool, tenants, specs, async () => (await poolStats(w.atrium.child)).builds);
  const list: Pair[] = [
    {
      key: 'F1',
      title: "client_credentials through Atrium's Provider vs bare oidc-provider 9 (the same request)",
      exercises:
        "the whole token endpoint on both sides for the same request (POST /token, client_secret_basic, grant_type=client_credentials&via=provider, ES256 JWT access token). Atrium: its HTTP pipeline, tenant resolution from the Host, the tenant's pooled Provider (oidc-provider 9 with Atrium's configuration, adapter and client lookup). Bare: oidc-provider 9 alone with a static client",
      doesNotExercise: 'Provider builds (one tenant, already pooled), rate limits (off on both sides), database writes (JWT access tokens are not stored), the fast path (the extra parameter sends the request past it)',
      a: atriumSide('Atrium', { next: () => viaProvider(w.solo) }),
      b: bareSide({ next: () => viaProvider(w.bare.target) }),
      concurrency: HTTP_CONCURRENCY,
    },
    {
      key: 'F2',
      title: "Atrium's client_credentials fast path vs bare oidc-provider 9 (the same request)",
      exercises:
        "a plain client_credentials request (POST /token, client_secret_basic, grant_type=client_credentials). Atrium answers it with its direct issuer (src/oidc/client-credentials-issuer.ts: cached client and keys, one ES256 signature), without oidc-provider; bare runs oidc-provider's token endpoint. The same token either way (test/client-credentials-issuer.test.ts compares them)",
      doesNotExercise: "oidc-provider on Atrium's side, any other grant or error answer (those go to the Provider), rate limits (off), Provider builds",
      a: atriumSide('Atrium', { next: () => tokenRequest(w.solo) }),
      b: bareSide({ next: () => tokenRequest(w.bare.target) }),
      concurrency: HTTP_CONCURRENCY,
    },
  ];
  for (const n of SPREADS) {
    const tenants = w.spread.slice(0, n);
    list.push({
      key: `F3/${n}`,
      title: `discovery + JWKS + token mix spread uniformly over ${n.toLocaleString('en-US')} tenants vs the same mix on one tenant (Atrium both sides)`,
      exercises: `each request picks a tenant at random (A) or always the same one (B), then discovery, JWKS or a fast-path client_credentials token with equal odds: tenant resolution over ${n.toLocaleString('en-US')} hosts, the per-tenant caches (tenant records and their re-validation, response caches, keys, client records) and how they hold at that count`,
      doesNotExercise: 'bare oidc-provider (both sides are Atrium), requests that need a Provider (F4), user-facing pages, rate limits (off)',
      a: atriumSide(`${n} tenants`, { next: () => mixRequest(pick(tenants)) }),
      b: atriumSide('1 tenant', { next: () => mixRequest(w.solo) }),
      concurrency: HTTP_CONCURRENCY,
      warmPass: atriumWarmPass(tenants, [(t) => discoveryRequest(t.host), (t) => jwksRequest(t.host), tokenRequest]),
    });
  }
  for (const n of SPREADS) {
    const tenants = w.spread.slice(0, n);
    list.push({
      key: `F4/${n}`,
      title: `requests that need a Provider spread over ${n.toLocaleString('en-US')} tenants vs one tenant (Atrium both sides)`,
      exercises: `client_credentials with an extra parameter (so the Provider answers, as for any non-plain token request), a tenant at random (A) or always the same (B): the Provider pool, and the Provider builds when ${n.toLocaleString('en-US')} tenants do not fit in it (the count is printed)`,
      doesNotExercise: 'bare oidc-provider, the fast path, user-facing pages, rate limits (off)',
      a: atriumSide(`${n} tenants`, { next: () => viaProvider(pick(tenants)) }),
      b: atriumSide('1 tenant', { next: () => viaProvider(w.solo) }),
      concurrency: HTTP_CONCURRENCY,
      warmPass: atriumWarmPass(tenants, [viaProvider]),
    });
    // The same spread on bare oidc-provider: how much of F4's loss is oidc-provider's own.
    const providers = Array.from({ length: n }, (_, i): Target => ({ ...w.bare.target, host: `b${i}.localhost:${w.bare.child.port}` }));
    list.push({
      key: `F4/${n}/bare`,
      title: `reference for F4/${n}: bare oidc-provider 9 spread over ${n.toLocaleString('en-US')} Providers in one process vs one Provider (bare both sides)`,
      exercises: `F4's request on bare oidc-provider, one Provider per host (built on its first request, in the warm pass, and kept), a host at random (A) or always the main one (B): what spreading requests over many Provider instances costs oidc-provider itself. Each instance has its own model classes, so the code they share sees ${n.toLocaleString('en-US')} times as many object shapes, and the working set is ${n.toLocaleString('en-US')} Providers' worth of memory`,
      doesNotExercise: 'Atrium (tenancy, the pool, storage, memory budget: the bare server keeps every Provider), Provider builds during the rounds, rate limits',
      a: bareSide({ name: `${n} Providers`, next: () => viaProvider(pick(providers)) }),
      b: bareSide({ name: '1 Provider', next: () => viaProvider(w.bare.target) }),
      concurrency: HTTP_CONCURRENCY,
      warmPass: warmPass(w.bPool, providers, [viaProvider]),
    });
  }
  list.push(
    {
      key: 'F5',
      title: "refresh-token grants vs bare oidc-provider 9's refresh grant (in-memory adapter)",
      exercises: `${FLOW_CONCURRENCY} workers, each with its own chain of rotating refresh tokens (scope openid email offline_access, client_secret_basic): token lookup, consumption and rotation, grant and account lookup, a new access token and ID token. Atrium: in its database (transactions per grant printed); bare: in process memory`,
      doesNotExercise:
        "how the refresh tokens were obtained (Atrium: by signing in through its pages; bare: minted straight into its adapter), the sign-in pages, rate limits (off). The bare side's storage is memory, so the ratio includes everything Atrium's storage costs",
      a: atriumSide('Atrium', { operation: refreshOperation(w.aPool, w.signIn.client, w.atriumRefreshTokens), counters: tokenTransactions(w.atrium, w.aPool) }),
      b: bareSide({ operation: refreshOperation(w.bPool, w.bare.webTarget, w.bareRefreshTokens) }),
      concurrency: FLOW_CONCURRENCY,
    },
    ...(w.bare.durableWebTarget
      ? [
          {
            key: 'F5/bare-pg',
            title: "reference for F5: bare oidc-provider 9's refresh grant with its storage on PostgreSQL vs in memory (bare both sides)",
            exercises: `F5's refresh grant on two twins of the bare server: one stores in PostgreSQL (bench/bare-pg-adapter.ts: one table, a JSONB row per model instance, one statement per adapter call, no transactions, no row-level security; the same database server as Atrium), the other in memory (F5's B). What durable storage costs oidc-provider itself, on the same 2 cores`,
            doesNotExercise: 'Atrium (tenancy, row-level security, transactions, its adapter); the statements are not made atomic, which a real store would need (a crash between the old token consumed and the new one saved loses the chain)',
            a: bareSide({ name: 'bare on PostgreSQL', operation: refreshOperation(w.bPool, w.bare.durableWebTarget, w.bareDurableRefreshTokens) }),
            b: bareSide({ name: 'bare in memory', operation: refreshOperation(w.bPool, w.bare.webTarget, w.bareRefreshTokens) }),
            concurrency: FLOW_CONCURRENCY,
          } satisfies Pair,
        ]
      : []),
    {
      key: 'F6',
      title: 'full password sign-in vs argon2id verification alone (same parameters)',
      exercises: `${FLOW_CONCURRENCY} workers, each a new browser per sign-in: authorization request (PKCE, prompt=consent), login page, login form (argon2id verification, m=19 MiB t=2 p=1), consent page and form, redirect, code exchange with ID token validation. Bound: an HTTP request that only runs Atrium's own verifyPassword with the same parameters, in a process of its own with the same libuv thread pool`,
      doesNotExercise: 'MFA, federation, rate limits and lockout (off or not triggered), the client-side work is in the load generator (openid-client), not in the servers; the bound has no database, sessions or pages',
      a: atriumSide('Atrium', { operation: async () => void (await signInOnce(w.signInConfig, w.signIn)) }),
      b: argon2Bound(),
      concurrency: FLOW_CONCURRENCY,
      minDurationMs: FLOW_MIN_DURATION_MS,
    },
    {
      key: 'F6/bare',
      title: "reference for F6: bare oidc-provider 9's sign-in (fewest pages, in-memory) vs argon2id verification alone (bare both sides)",
      exercises: `F6's sign-in, driven by the same load generator code, against bare oidc-provider with the fewest pages it needs (bench/bare-sign-in-pages.ts: a form per prompt, a CSRF token, the same argon2id verification, consent kept in a Grant) and its in-memory adapter: how close to the argon2id bound a sign-in through oidc-provider can come on this machine, before any database, template, policy or tenancy`,
      doesNotExercise: 'Atrium; durable storage (sessions, grants and codes live in process memory); page templates, i18n, branding, rate limits, lockout, audit events',
      a: bareSide({ name: 'bare sign-in', operation: async () => void (await signInOnce(w.bareSignInConfig, w.bareSignIn)) }),
      b: argon2Bound(),
      concurrency: FLOW_CONCURRENCY,
      minDurationMs: FLOW_MIN_DURATION_MS,
    },
  );
  return list;
}

// ---------------------------------------------------------------------------------------
// F7: tenant lifecycle

interface Creation {
  ms: number[];
  /** The key pool's takes during the creations (/metrics): from the pool, generated inline. */
  hits: number;
  misses: number;
}

interface Lifecycle {
  /** One at a time with a pause after each (the pool refills): a sign-up's pattern. */
  paced: Creation;
  /** Back to back, more than the pool holds. */
  burst: Creation;
  /** Per sample: from the creation's answer to the first token (a client created in between), and the client's creation. */
  firstToken: { fromCreation: number; client: number }[];
  /** Per sample: Atrium's first discovery of a new tenant, a bare new Provider's first discovery. */
  cold: { atrium: number; bare: number }[];
  paging: { tenants: number; first: number[]; last: number[]; lastByOffset: number[]; cursor: boolean };
}

/** The key pool's running totals, from /metrics. */
async function keyPoolTotals(w: World): Promise<{ hits: number; misses: number }> {
  const text = await expectOk(w.aPool, { method: 'GET', path: '/metrics', headers: { host: new URL(w.atrium.publicUrl).host, authorization: `Bearer ${METRICS_TOKEN}` } }, 'metrics');
  const read = (name: string) => Number(new RegExp(`^atrium_signing_key_pool_${name}_total (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
  return { hits: read('hits'), misses: read('misses') };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Tenants created one at a time, each timed (with `paceMs` after each); returns their slugs with the times. */
async function timeCreation(w: World, admin: AtriumAdmin, prefix: string, n: number, paceMs: number): Promise<{ slugs: string[]; creation: Creation }> {
  const created = slugs(prefix, n);
  const ms: number[] = [];
  await pause(paceMs);
  const before = await keyPoolTotals(w);
  for (const slug of created) {
    const t0 = performance.now();
    await admin.createTenant(slug);
    ms.push(performance.now() - t0);
    if (paceMs) await pause(paceMs);
  }
  const after = await keyPoolTotals(w);
  return { slugs: created, creation: { ms, hits: after.hits - before.hits, misses: after.misses - before.misses } };
}

/** A new tenant, a machine client, a token: from the creation's answer to the token's (paced like the creations). */
async function firstTokens(w: World, admin: AtriumAdmin, n: number): Promise<Lifecycle['firstToken']> {
  const out: Lifecycle['firstToken'] = [];
  for (const slug of slugs('first', n)) {
    await pause(CREATION_PACE_MS);
    await admin.createTenant(slug);
    const created = performance.now();
    const target = await admin.createClient(slug);
    const client = performance.now() - created;
    const res = await timedRequest(w.aPool, tokenRequest(target));
    if (res.status !== 200) throw new Error(`first token ${slug}: HTTP ${res.status} ${res.body.slice(0, 200)}`);
    out.push({ fromCreation: performance.now() - created, client });
  }
  return out;
}

/** First discovery of each new tenant vs of a new bare Provider, alternating which goes first. */
async function coldStarts(w: World, created: readonly string[]): Promise<{ atrium: number; bare: number }[]> {
  const out: { atrium: number; bare: number }[] = [];
  for (const [i, slug] of created.entries()) {
    const a = async () => {
      const res = await timedRequest(w.aPool, discoveryRequest(tenantHost(w.atrium, slug)));
      if (res.status !== 200) throw new Error(`cold discovery ${slug}: HTTP ${res.status}`);
      return res.ms;
    };
    const b = async () => {
      const res = await timedRequest(w.bPool, discoveryRequest(`${slug}.localhost:${w.bare.child.port}`));
      if (res.status !== 200) throw new Error(`bare cold discovery ${slug}: HTTP ${res.status}`);
      return res.ms;
    };
    if (i % 2 === 0) {
      const atrium = await a();
      out.push({ atrium, bare: await b() });
    } else {
      const bare = await b();
      out.push({ atrium: await a(), bare });
    }
  }
  return out;
}

/** GET /api/v1/tenants: first page vs last page (by cursor, and by offset), samples interleaved. */
async function paging(admin: AtriumAdmin): Promise<Lifecycle['paging']> {
  const first = await admin.timedGet(`/tenants?limit=${PAGE_SIZE}`);
  const tenants = Number(first.body.total);
  const cursor = 'next_cursor' in first.body;
  let lastPath = `/tenants?limit=${PAGE_SIZE}&offset=${Math.max(0, tenants - PAGE_SIZE)}`;
  if (cursor) {
    // The cursor of the last page, as a client walking the list gets it.
    let next = first.body.next_cursor as string | null;
    let previous: string | null = null;
    while (next) {
      previous = next;
      next = (await admin.timedGet(`/tenants?limit=${PAGE_SIZE}&cursor=${next}`)).body.next_cursor as string | null;
    }
    if (previous) lastPath = `/tenants?limit=${PAGE_SIZE}&cursor=${previous}`;
  }
  const offsetPath = `/tenants?limit=${PAGE_SIZE}&offset=${Math.max(0, tenants - PAGE_SIZE)}`;
  const out = { tenants, first: [] as number[], last: [] as number[], lastByOffset: [] as number[], cursor };
  for (let i = 0; i < PAGING_SAMPLES; i++) {
    const order = i % 2 === 0 ? (['first', 'last', 'lastByOffset'] as const) : (['lastByOffset', 'last', 'first'] as const);
    for (const which of order) out[which].push((await admin.timedGet(which === 'first' ? `/tenants?limit=${PAGE_SIZE}` : which === 'last' ? lastPath : offsetPath)).ms);
  }
  return out;
}

/** Atrium started again on the database the run filled: time to ready, and to a first discovery. */
interface Startup {
  tenants: number;
  readyMs: number[];
  firstDiscoveryMs: number[];
}

const STARTUP_SAMPLES = 3;

/**
 * Stops the run's Atrium, then starts a new instance of the same deployment on the same
 * database STARTUP_SAMPLES times: from spawning the process to /readyz answering 200, then
 * one tenant's first discovery. It comes last among the figures measured on that Atrium.
 */
async function startupTimes(backend: Backend, w: World): Promise<Startup> {
  progress(`startup: Atrium started ${STARTUP_SAMPLES} times on the database with ${w.spread.length.toLocaleString('en-US')}+ tenants`);
  const out: Startup = { tenants: w.spread.length, readyMs: [], firstDiscoveryMs: [] };
  await w.aPool.close();
  pools.delete(w.aPool);
  await w.atrium.child.stop();
  for (let i = 0; i < STARTUP_SAMPLES; i++) {
    const t0 = performance.now();
    const atrium = await startAtrium(`atrium-startup-${i}`, { backendEnv: backend.env, encryptionKey: w.atrium.encryptionKey, sameDeploymentAs: w.atrium });
    out.readyMs.push(performance.now() - t0);
    const pool = openPool(atrium.child.port);
    const res = await timedRequest(pool, discoveryRequest(tenantHost(atrium, `t-${String(i).padStart(5, '0')}`)));
    if (res.status !== 200) throw new Error(`first discovery after startup: HTTP ${res.status}`);
    out.firstDiscoveryMs.push(res.ms);
    await pool.close();
    pools.delete(pool);
    await atrium.child.stop();
  }
  return out;
}

function startupReport(s: Startup): string[] {
  return [
    `Startup with ${s.tenants.toLocaleString('en-US')}+ tenants (same database, same deployment; spawn to /readyz 200), n=${s.readyMs.length}: median ${ms(median(s.readyMs))} (${s.readyMs.map((v) => formatNumber(v)).join(', ')} ms)`,
    `    then one tenant's first discovery: median ${ms(median(s.firstDiscoveryMs))} (${s.firstDiscoveryMs.map((v) => formatNumber(v)).join(', ')} ms)`,
    ...wrap('exercises: process start (Node, module loading, migrations check, bootstrap client sync, listening), and the first request of a tenant after it. Does not exercise: anything per tenant at start (nothing is done per tenant at start).', '    '),
    '',
  ];
}

// ---------------------------------------------------------------------------------------

async function setUp(backend: Backend): Promise<{ world: World; admin: AtriumAdmin; tokenFormats: string[] }> {
  progress("starting Atrium (Provider pool: Atrium's default size) and bare oidc-provider");
  const [atrium, bare] = await Promise.all([startAtrium('atrium', { backendEnv: backend.env, keyPoolSize: KEY_POOL_SIZE, exposeGc: true }), startBare('bare', { databaseUrl: backend.env.DATABASE_URL })]);
  const aPool = openPool(atrium.child.port);
  const bPool = openPool(bare.child.port);
  const admin = new AtriumAdmin(aPool, atrium);
  await admin.ready();

  const maxSpread = Math.max(0, ...SPREADS);
  progress(`provisioning Atrium: 1 tenant with a user, a web client and a machine client; ${maxSpread.toLocaleString('en-US')} tenants with a machine client`);
  const [solo] = (await admin.provision(['solo'], true)) as [Target];
  const web = await admin.createWebClient('solo', REDIRECT_URI);
  await admin.createUser('solo', 'bench@solo.test', PASSWORD);
  let done = 0;
  // Key generation runs on libuv's thread pool and the API waits on the database: 8 at a time keeps both busy.
  const spread = await mapLimit(slugs('t', maxSpread), 8, async (slug) => {
    const [target] = (await admin.provision([slug], true)) as [Target];
    if (++done % 1000 === 0) progress(`  ${done.toLocaleString('en-US')} tenants`);
    return target;
  });

  const tokenFormats = [
    `Atrium: ${tokenFormat(await expectOk(aPool, tokenRequest(solo), 'Atrium token'))}`,
    `bare:   ${tokenFormat(await expectOk(bPool, tokenRequest(bare.target), 'bare token'))}`,
  ];
  const issuer = (JSON.parse(await expectOk(aPool, discoveryRequest(solo.host), 'Atrium discovery')) as { issuer: string }).issuer;
  if (issuer !== `http://${solo.host}`) throw new Error(`Atrium served issuer ${issuer} for host ${solo.host}`);
  await expectOk(aPool, jwksRequest(solo.host), 'Atrium JWKS');
  await expectOk(aPool, viaProvider(solo), "Atrium token through the Provider");

  progress(`signing in ${FLOW_CONCURRENCY} times for refresh tokens; minting as many on bare`);
  const signIn: SignInUser = { issuer, client: web, email: 'bench@solo.test', password: PASSWORD };
  const signInConfig = await discoverFor(signIn);
  const bareSignIn: SignInUser = { issuer: `http://${bare.webTarget.host}`, client: bare.webTarget, email: bare.signInEmail, password: PASSWORD };
  const bareSignInConfig = await discoverFor(bareSignIn);
  const atriumRefreshTokens: string[] = [];
  for (let i = 0; i < FLOW_CONCURRENCY; i++) atriumRefreshTokens.push(await refreshTokenBySignIn(signInConfig, signIn));
  const mint = (host: string) =>
    Promise.all(
      Array.from({ length: FLOW_CONCURRENCY }, async () => (JSON.parse(await expectOk(bPool, { method: 'POST', path: '/bench/refresh-token', headers: { host } }, `bare refresh token (${host})`)) as { refresh_token: string }).refresh_token),
    );
  const bareRefreshTokens = await mint(bare.target.host);
  const bareDurableRefreshTokens = bare.durableWebTarget ? await mint(bare.durableWebTarget.host) : [];
  return { world: { atrium, bare, aPool, bPool, solo, spread, signIn, signInConfig, bareSignIn, bareSignInConfig, atriumRefreshTokens, bareRefreshTokens, bareDurableRefreshTokens }, admin, tokenFormats };
}

function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(`${ROOT}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string }).version;
}

async function main(): Promise<void> {
  const backend = await chooseBackend();
  progress(`${QUICK ? 'quick run' : 'full run'}: ${SETTINGS.rounds} rounds per figure, ${SETTINGS.warmupMs / 1000} s warm-up + ${SETTINGS.durationMs / 1000} s per side; storage: ${backend.description}`);
  try {
    const { world, admin, tokenFormats } = await setUp(backend);
    const results: PairResult[] = [];
    for (const pair of pairs(world).filter((p) => selected(p.key) && (REFERENCES || !isReference(p.key)))) {
      const result = await measurePair(pair, SETTINGS, progress);
      // Read before the collection below, as the figure left it; then what of the heap is live.
      const { rssMb, memory } = await poolStats(world.atrium.child);
      const liveHeapMb = Math.round((await world.atrium.child.ask('heap')).heapUsed! / 1048576);
      result.memory = { rssMb, ...memory, liveHeapMb };
      results.push(result);
    }

    let lifecycle: Lifecycle | undefined;
    let creation: { slugs: string[] } = { slugs: [] };
    if (selected('F7')) {
      progress(`F7: ${CREATION_SAMPLES} tenants created one at a time (${CREATION_PACE_MS} ms apart), then each one's first discovery vs a new bare Provider's`);
      const paced = await timeCreation(world, admin, 'new', CREATION_SAMPLES, CREATION_PACE_MS);
      const cold = await coldStarts(world, paced.slugs);
      progress(`F7: ${BURST_SAMPLES} tenants created back to back; ${FIRST_TOKEN_SAMPLES} first tokens after creation`);
      const burst = await timeCreation(world, admin, 'burst', BURST_SAMPLES, 0);
      const firstToken = await firstTokens(world, admin, FIRST_TOKEN_SAMPLES);
      progress(`F7: tenant list paging, ${PAGING_SAMPLES} samples of each page`);
      lifecycle = { paced: paced.creation, burst: burst.creation, firstToken, cold, paging: await paging(admin) };
      creation = paced;
    }

    const poolAtEnd = await poolStats(world.atrium.child);
    const errorLines = world.atrium.child.errorLines;
    const startup = selected('F7') || process.argv.includes('--startup') ? await startupTimes(backend, world) : undefined;
    let extra: string[] = [];
    if (SUPPLEMENTARY) {
      await Promise.all([world.aPool, world.bPool].map((p) => p.destroy()));
      await Promise.all([world.atrium.child.stop(), world.bare.child.stop()]);
      extra = await supplementary({
        backend,
        encryptionKey: world.atrium.encryptionKey,
        servedSlugs: world.spread.map((t) => t.host.split('.')[0]!),
        coldSlugs: creation.slugs,
        solo: world.solo,
        settings: SETTINGS,
        progress,
      });
    }
    process.stdout.write(report({ backend, results, lifecycle, startup, tokenFormats, poolAtEnd, errorLines, extra }));
  } finally {
    await Promise.allSettled([...pools].map((p) => p.destroy()));
    await stopAll();
    await backend.cleanup().catch((err: unknown) => progress(`cleanup failed: ${err instanceof Error ? err.message : String(err)}`));
    progress('done; servers stopped, storage removed');
  }
}

// ---------------------------------------------------------------------------------------
// The report

interface Results {
  backend: Backend;
  results: PairResult[];
  /** Absent when `--only` left F7 out. */
  lifecycle: Lifecycle | undefined;
  startup: Startup | undefined;
  tokenFormats: string[];
  poolAtEnd: AtriumPoolSnapshot;
  errorLines: number;
  /** Supplementary figures' lines (supplementary.ts), empty when not run. */
  extra: string[];
}

const wrap = (text: string, indent: string, width = 100): string[] => {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(indent + line);
  return lines;
};

const perSecond = (v: number) => `${formatNumber(v)}/s`;
const ms = (v: number) => `${formatNumber(v)} ms`;

function pairReport(r: PairResult): string[] {
  const { pair, rounds } = r;
  const side = (which: 'a' | 'b') => rounds.map((x) => x[which]);
  const medianOf = (which: 'a' | 'b', f: (run: PairResult['rounds'][number]['a']) => number) => median(side(which).map(f));
  const lines = [
    `${pair.key}  ${pair.title}`,
    `    A/B throughput (A: ${pair.a.name}, B: ${pair.b.name}), median of per-round ratios: ${formatSpread(spreadOf(rounds.map((x) => x.ratio)))}`,
    `    rounds (order, ratio): ${rounds.map((x) => `${x.order} ${formatNumber(x.ratio)}`).join(', ')}`,
    `    medians over rounds: ${pair.a.name} ${perSecond(medianOf('a', (x) => x.result.rps))}, p50 ${ms(medianOf('a', (x) => x.result.p50Ms))}, p99 ${ms(medianOf('a', (x) => x.result.p99Ms))}, ${formatNumber(medianOf('a', (x) => x.result.serverCpuUsPerRequest))} µs server CPU/op;`,
    `                         ${pair.b.name} ${perSecond(medianOf('b', (x) => x.result.rps))}, p50 ${ms(medianOf('b', (x) => x.result.p50Ms))}, p99 ${ms(medianOf('b', (x) => x.result.p99Ms))}, ${formatNumber(medianOf('b', (x) => x.result.serverCpuUsPerRequest))} µs server CPU/op`,
  ];
  const cores = (which: 'a' | 'b') =>
    `${pair[which].name}: server ${formatNumber(medianOf(which, (x) => x.result.serverCores))}, load generator ${formatNumber(medianOf(which, (x) => x.result.generatorCores))}, rest of the machine ${formatNumber(medianOf(which, (x) => x.result.otherCores))}`;
  lines.push(`    cores busy (medians; the rest is the database and other work on the machine): ${cores('a')}; ${cores('b')}`);
  // On a machine whose cores are all busy, throughput is inversely proportional to this; its
  // B/A quotient is then the ratio the machine allows, whatever each side does with its CPU.
  const machineCpuMs = (which: 'a' | 'b') => medianOf(which, (x) => ((x.result.serverCores + x.result.generatorCores + x.result.otherCores) / x.result.rps) * 1000);
  lines.push(
    `    machine CPU per operation (server + load generator + rest, cores busy / throughput; medians): ${pair.a.name} ${ms(machineCpuMs('a'))}, ${pair.b.name} ${ms(machineCpuMs('b'))}; B/A ${formatNumber(machineCpuMs('b') / machineCpuMs('a'))}`,
  );
  for (const which of ['a', 'b'] as const) {
    const runs = side(which);
    const built = runs.map((x) => x.counters.providersBuilt).filter((v): v is number => v !== undefined);
    if (built.length) lines.push(`    Providers built per run of side ${which.toUpperCase()} (${pair[which].name}; warm-up included): ${built.join(', ')} (the pool's build counter)`);
    // So that a round a long collection fell in can be told apart from one where the work itself was slower.
    const pauses = runs.map((x) => `${formatNumber(x.counters.gcPauseMs ?? 0)}/${formatNumber(x.counters.gcMajorPauseMs ?? 0)}`);
    lines.push(`    collector pauses per run of side ${which.toUpperCase()} (${pair[which].name}; ms, all/full collections; warm-up included): ${pauses.join(', ')}`);
    const tx = runs.filter((x) => x.counters.tokenRequests);
    if (tx.length) {
      const perGrant = tx.map((x) => x.counters.transactions! / x.counters.tokenRequests!);
      lines.push(`    PostgreSQL transactions per grant, per run of side ${which.toUpperCase()} (${pair[which].name}; atrium_db_transactions_per_request of /token): ${formatSpread(spreadOf(perGrant))}`);
      const waits = tx.filter((x) => Number.isFinite(x.counters.roundTrips)).map((x) => x.counters.roundTrips! / x.counters.tokenRequests!);
      if (waits.length) lines.push(`    PostgreSQL round trips per grant (waits on the server; atrium_db_round_trips_per_request of /token): ${formatSpread(spreadOf(waits))}`);
    }
  }
  if (r.warmPass) lines.push(`    before the rounds, a warm pass (not measured): ${r.warmPass}`);
  if (r.memory) lines.push(`    Atrium's RSS after the figure: ${formatMemory(r.memory)}`);
  const errors = rounds.flatMap((x) => [x.a.result, x.b.result]).filter((x) => x.errors);
  if (errors.length) lines.push(`    ERRORS: ${errors.reduce((s, x) => s + x.errors, 0)} failed operations, first: ${errors[0]!.firstError}`);
  lines.push(...wrap(`exercises: ${pair.exercises}.`, '    '), ...wrap(`does not exercise: ${pair.doesNotExercise}.`, '    '), '');
  return lines;
}

function creationLine(what: string, c: Creation): string {
  const sorted = [...c.ms].sort((a, b) => a - b);
  return `    tenant creation, ${what} (n=${sorted.length}): p50 ${ms(percentile(sorted, 50))}, p95 ${ms(percentile(sorted, 95))}, max ${ms(sorted.at(-1)!)}; key pool: ${c.hits} from the pool, ${c.misses} generated inline`;
}

function lifecycleReport(l: Lifecycle): string[] {
  const coldA = l.cold.map((x) => x.atrium).sort((a, b) => a - b);
  const coldB = l.cold.map((x) => x.bare).sort((a, b) => a - b);
  const first = l.firstToken.map((x) => x.fromCreation).sort((a, b) => a - b);
  const p = l.paging;
  const pagingRatios = p.first.map((f, i) => p.last[i]! / f);
  const offsetRatios = p.first.map((f, i) => p.lastByOffset[i]! / f);
  return [
    `F7  tenant lifecycle (SIGNING_KEY_POOL_SIZE ${KEY_POOL_SIZE ?? "Atrium's default"})`,
    creationLine(`one at a time, ${CREATION_PACE_MS} ms apart`, l.paced),
    creationLine('back to back', l.burst),
    ...wrap("exercises: POST /api/v1/tenants (validation, slug checks, RS256 + ES256 keys from the pool or generated then, sealing, one transaction, audit event). Paced: a pause after each lets the pool refill, as between sign-ups; back to back: a burst beyond the pool, whose rest generate inline. Does not exercise: clients or users of the tenant, serving it.", '    '),
    `    first token after creation (n=${first.length}): from the creation's answer to a client_credentials token, median ${ms(percentile(first, 50))}, p95 ${ms(percentile(first, 95))}, max ${ms(first.at(-1)!)} (of which the client's creation: median ${ms(median(l.firstToken.map((x) => x.client)))})`,
    ...wrap("exercises: the tenant's creation answered, then POST .../clients (metadata validated by the Provider of the tenant's configuration shape, built once per shape, src/oidc/client-validation.ts), then the token endpoint's fast path on the new tenant (keys read, unsealed, imported, signing). Paced like the creations.", '      '),
    `    cold first discovery, Atrium/bare per-sample ratio: ${formatSpread(spreadOf(l.cold.map((x) => x.atrium / x.bare)))}`,
    `      Atrium median ${ms(percentile(coldA, 50))} (p95 ${ms(percentile(coldA, 95))}); bare new Provider median ${ms(percentile(coldB, 50))} (p95 ${ms(percentile(coldB, 95))})`,
    ...wrap("exercises: Atrium: the first request to a tenant created moments before and never served (tenant lookup, keys read and decrypted, Provider or response cache built, discovery); bare: new Provider(...) with pre-generated keys, then discovery. Samples alternate which server goes first; does not exercise: anything after the first request.", '      '),
    `    tenant list at ${p.tenants.toLocaleString('en-US')} tenants (GET /api/v1/tenants, limit ${PAGE_SIZE}), last page/first page per-sample ratio: ${formatSpread(spreadOf(pagingRatios))}`,
    `      medians: first ${ms(median(p.first))}, last ${p.cursor ? 'by cursor' : '(no cursor paging: by offset)'} ${ms(median(p.last))}, last by offset ${ms(median(p.lastByOffset))} (offset last/first ${formatSpread(spreadOf(offsetRatios))})`,
    ...wrap('exercises: the list query and its count over every tenant, the JSON of a page, the management API authentication; samples interleave the pages. Does not exercise: search.', '      '),
    '',
  ];
}

function report(r: Results): string {
  const cpu = os.cpus();
  const problems = [r.errorLines ? `Atrium logged ${r.errorLines} error-level lines during the run` : undefined].filter(Boolean);
  return [
    '',
    `Atrium bench (${QUICK ? 'quick' : 'full'}${LIFECYCLE_ONLY ? ', F7 only' : ''}) — oidc-provider ${versionOf('oidc-provider')}, node ${process.version}, ${cpu.length} CPUs (${cpu[0]?.model.trim()}), load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`,
    `Rounds: ${SETTINGS.rounds} per figure, interleaved (round i: A then B, the order alternating), each side ${SETTINGS.warmupMs / 1000} s warm-up + ${SETTINGS.durationMs / 1000} s measured`,
    `        (F6: at least ${FLOW_MIN_DURATION_MS / 1000} s), closed loop over keep-alive connections (undici ${versionOf('undici')}); ${HTTP_CONCURRENCY} connections, ${FLOW_CONCURRENCY} workers for F5 and F6.`,
    '        Figure = median of the per-round ratios A/B, with min–max (and IQR from 4 rounds); never the best round.',
    `Atrium storage: ${r.backend.description}; rate limits off (RATE_LIMITS_ENABLED=false); Provider pool: Atrium's default size`,
    `        (at the end: ${r.poolAtEnd.size} pooled, ${r.poolAtEnd.builds} built, ${r.poolAtEnd.evictions} evicted over the run; Atrium's RSS ${formatMemory({ rssMb: r.poolAtEnd.rssMb, ...r.poolAtEnd.memory })})`,
    `Token format: ${r.tokenFormats.join('\n              ')}`,
    '',
    ...r.results.flatMap(pairReport),
    ...(REFERENCES ? [] : ['Reference figures (F4/N/bare, F5/bare-pg, F6/bare): not run (--quick without --references or --only).', '']),
    ...(r.lifecycle ? lifecycleReport(r.lifecycle) : []),
    ...(r.startup ? startupReport(r.startup) : []),
    ...(r.extra.length ? ['Supplementary (fresh processes, same database):', ...r.extra] : [`Supplementary figures (heap per Provider, two instances): not run (${LIFECYCLE_ONLY ? '--lifecycle-only' : '--quick or --only'} without --supplementary).`, '']),
    'Ratios are A/B: below 1 for throughput means A (Atrium, or Atrium spread over N tenants) does less than B.',
    'Only ratios mean anything on a shared machine; the absolute values say how busy it was.',
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
