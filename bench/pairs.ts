/**
 * A headline figure is a pair: side A (Atrium, or Atrium spread over N tenants) against
 * side B (bare oidc-provider, or Atrium on one tenant), measured in interleaved rounds.
 * Round i runs A then B back to back, or B then A (the order alternates every round), so
 * whatever else the machine is doing in that moment weighs on both halves of the round's
 * ratio. The figure is the median of the per-round ratios A/B with their spread (min–max,
 * and the interquartile range once there are enough rounds); never the best round.
 */
import type { Pool } from 'undici';
import type { ServerChild } from './children.ts';
import { runLoad, type LoadResult, type RequestSpec } from './load.ts';

export interface Side {
  /** Shown in the report: "Atrium", "bare oidc-provider", "1 tenant". */
  name: string;
  /** Several servers (instances of one deployment): the load is split evenly, CPU summed. */
  server: ServerChild | readonly ServerChild[];
  pool: Pool | readonly Pool[];
  next?: (worker: number) => RequestSpec;
  operation?: (worker: number) => Promise<void>;
  /**
   * Counters read before and after each of this side's runs (warm-up included); the report
   * gives their change per run: Providers built, database transactions. The collector's
   * pauses in the side's servers are counted for every side.
   */
  counters?: () => Promise<Record<string, number>>;
}

export interface Pair {
  key: string;
  title: string;
  /** What the figure exercises, and what it does not: printed with it. */
  exercises: string;
  doesNotExercise: string;
  a: Side;
  b: Side;
  concurrency: number;
  /** Slow operations (a sign-in takes a second under load): measure at least this long per side. */
  minDurationMs?: number;
  /**
   * Run once before the rounds, not measured (its time and counters are printed): one
   * request to every tenant of a spread, so the figure is the steady state of N busy
   * tenants rather than their first minute.
   */
  warmPass?: () => Promise<string>;
}

export interface RoundSettings {
  rounds: number;
  warmupMs: number;
  durationMs: number;
}

export interface SideRun {
  result: LoadResult;
  /** The change of each counter over the run. */
  counters: Record<string, number>;
}

export interface PairRound {
  order: 'AB' | 'BA';
  a: SideRun;
  b: SideRun;
  ratio: number;
}

/** Atrium's resident set and where it is (MB): V8's heap in use and reserved, and memory outside the heap. */
export interface AtriumMemory {
  rssMb: number;
  heapUsedMb: number;
  heapTotalMb: number;
  externalMb: number;
  /** The heap still in use after forced full collections (between figures, never during one): the rest of heapUsed was garbage. */
  liveHeapMb?: number;
}

export interface PairResult {
  pair: Pair;
  settings: RoundSettings;
  rounds: PairRound[];
  /** Atrium's memory once the figure was measured, when the bench asked. */
  memory?: AtriumMemory;
  /** What the warm pass said (pair.warmPass), printed with the figure. */
  warmPass?: string;
}

/** What each of the side's servers says of its CPU time and collector pauses so far. */
const cpuOf = (side: Side) => Promise.all(([] as ServerChild[]).concat(side.server).map((s) => s.ask('cpu')));

/** The collector's pauses in the side's servers so far (ms), summed: counted like the side's own counters. */
async function gcPauses(side: Side): Promise<Record<string, number>> {
  const answers = await cpuOf(side);
  return { gcPauseMs: answers.reduce((sum, a) => sum + (a.gc?.allMs ?? 0), 0), gcMajorPauseMs: answers.reduce((sum, a) => sum + (a.gc?.majorMs ?? 0), 0) };
}

async function runSide(side: Side, concurrency: number, settings: RoundSettings): Promise<SideRun> {
  const before = { ...(await side.counters?.()), ...(await gcPauses(side)) };
  const result = await runLoad(side.pool, {
    next: side.next,
    operation: side.operation,
    concurrency,
    warmupMs: settings.warmupMs,
    durationMs: settings.durationMs,
    serverCpuUs: async () => (await cpuOf(side)).reduce((sum, a) => sum + a.cpuUs!, 0),
  });
  const after = { ...(await side.counters?.()), ...(await gcPauses(side)) };
  return { result, counters: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - (before[k] ?? 0)])) };
}

export async function measurePair(pair: Pair, settings: RoundSettings, progress: (message: string) => void): Promise<PairResult> {
  const rounds: PairRound[] = [];
  let warmPass: string | undefined;
  if (pair.warmPass) {
    progress(`${pair.key}: warm pass`);
    warmPass = await pair.warmPass();
    progress(`${pair.key}: warm pass: ${warmPass}`);
  }
  for (let i = 0; i < settings.rounds; i++) {
    const order = i % 2 === 0 ? 'AB' : 'BA';
    const runs: Partial<Record<'a' | 'b', SideRun>> = {};
    const sideSettings = { ...settings, durationMs: Math.max(settings.durationMs, pair.minDurationMs ?? 0) };
    for (const which of order === 'AB' ? (['a', 'b'] as const) : (['b', 'a'] as const)) runs[which] = await runSide(pair[which], pair.concurrency, sideSettings);
    const { a, b } = runs as { a: SideRun; b: SideRun };
    const ratio = a.result.rps / b.result.rps;
    rounds.push({ order, a, b, ratio });
    const errors = a.result.errors + b.result.errors;
    progress(
      `${pair.key} round ${i + 1}/${settings.rounds} (${order}): ${pair.a.name} ${a.result.rps.toFixed(1)}/s, ${pair.b.name} ${b.result.rps.toFixed(1)}/s, ratio ${ratio.toFixed(2)}` +
        (errors ? `; ${errors} errors, first: ${a.result.firstError ?? b.result.firstError}` : ''),
    );
  }
  return { pair, settings, rounds, warmPass };
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((x, y) => x - y);
  if (!sorted.length) return NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export const median = (values: readonly number[]) => quantile(values, 0.5);

export interface Spread {
  median: number;
  min: number;
  max: number;
  /** Interquartile range, with 4 rounds or more (fewer make quartiles meaningless). */
  iqr?: [number, number];
  n: number;
  /** Rounds without a ratio (a side completed nothing). */
  dropped?: number;
}

/** A round where B completed nothing has no ratio: it is left out, and `dropped` says so. */
export function spreadOf(all: readonly number[]): Spread {
  const values = all.filter(Number.isFinite);
  return {
    ...(values.length < all.length ? { dropped: all.length - values.length } : {}),
    median: median(values),
    min: Math.min(...values),
    max: Math.max(...values),
    ...(values.length >= 4 ? { iqr: [quantile(values, 0.25), quantile(values, 0.75)] as [number, number] } : {}),
    n: values.length,
  };
}

const fixed = (v: number) => (!Number.isFinite(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

/** `0.63 (min–max 0.55–0.71, IQR 0.60–0.66, n=5)` */
export function formatSpread(s: Spread): string {
  return `${fixed(s.median)} (min–max ${fixed(s.min)}–${fixed(s.max)}${s.iqr ? `, IQR ${fixed(s.iqr[0])}–${fixed(s.iqr[1])}` : ''}, n=${s.n}${s.dropped ? `; ${s.dropped} round(s) without a ratio left out` : ''})`;
}

export { fixed as formatNumber };
