/**
 * The in-child half of the bench's IPC: the parent asks a child server for its heap (after
 * forced garbage collection) or for extra stats, and the child answers on the IPC channel.
 * Shared by the Atrium preload (atrium-preload.ts) and the bare oidc-provider server.
 */
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

/** What the parent sends; `id` pairs an answer with its question. */
export interface ProbeRequest {
  id: number;
  type: 'heap' | 'stats' | 'cpu';
}

/** Time the main thread stood still for V8's collector so far (ms): every pause, and those of full (mark-compact) collections. */
export interface GcPauses {
  allMs: number;
  majorMs: number;
}

export interface ProbeAnswer {
  id: number;
  /** heapUsed after gc (bytes), for `heap`. */
  heapUsed?: number;
  /** Whatever the child reports for `stats`. */
  stats?: unknown;
  /** User + system CPU time of the process so far (µs), for `cpu`. */
  cpuUs?: number;
  /** Collector pauses so far, for `cpu`. */
  gc?: GcPauses;
  error?: string;
}

/**
 * heapUsed once garbage is really gone: several full collections with a turn of the event
 * loop between them, so weak callbacks and finalizers queued by one collection run before
 * the next. Needs --expose-gc.
 */
export async function settledHeapUsed(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('heap measurement needs node --expose-gc');
  for (let i = 0; i < 5; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return process.memoryUsage().heapUsed;
}

/**
 * Answers probe requests on the IPC channel, and exits when the parent goes away, so a
 * bench killed hard (SIGKILL, crash) never leaves a server behind.
 */
export function installProbe(stats: () => unknown = () => undefined): void {
  if (!process.send) return; // not started by the bench
  process.on('disconnect', () => process.exit(0));
  const gc = watchGcPauses();
  process.on('message', (message: ProbeRequest) => {
    const reply = (answer: Omit<ProbeAnswer, 'id'>) => process.send?.({ id: message.id, ...answer } satisfies ProbeAnswer);
    if (message.type === 'stats') return reply({ stats: stats() });
    if (message.type === 'cpu') {
      const { user, system } = process.cpuUsage();
      return reply({ cpuUs: user + system, gc: { ...gc } });
    }
    settledHeapUsed().then(
      (heapUsed) => reply({ heapUsed }),
      (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
    );
  });
}

/** Adds up the collector's pauses as Node reports them (perf_hooks `gc` entries: the main thread's pause, by kind). */
function watchGcPauses(): GcPauses {
  const pauses: GcPauses = { allMs: 0, majorMs: 0 };
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      pauses.allMs += entry.duration;
      if ((entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) pauses.majorMs += entry.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  return pauses;
}
