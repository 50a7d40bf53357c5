/** The isolation self-audit's result: one line per check, failed if any check failed. */
export interface IsolationCheck {
  /** Stable name, for scripts: tenant-tables, table-classification, database-roles, redis-keys, sealed-columns, live-probe. */
  name: string;
  /** `skip`: the check does not apply to this deployment (no Redis, embedded database); it fails nothing. */
  status: 'pass' | 'fail' | 'skip';
  detail: string;
  /** What failed, one entry per finding. */
  problems?: string[];
}

export interface IsolationReport {
  status: 'passed' | 'failed';
  checked_at: string;
  checks: IsolationCheck[];
}

export function reportOf(checks: IsolationCheck[], at = new Date()): IsolationReport {
  return { status: checks.some((c) => c.status === 'fail') ? 'failed' : 'passed', checked_at: at.toISOString(), checks };
}

/** One line per check (`PASS tenant-tables: …`), each finding indented beneath; the CLI prints this. */
export function reportLines(report: IsolationReport): string[] {
  const lines = report.checks.flatMap((c) => [`${c.status.toUpperCase().padEnd(4)} ${c.name}: ${c.detail}`, ...(c.problems ?? []).map((p) => `       - ${p}`)]);
  return [...lines, `isolation audit ${report.status}`];
}

/** A check that threw (the database or Redis went away mid-audit) is a failure, named, never a crash. */
export async function guarded(name: string, run: () => Promise<IsolationCheck>): Promise<IsolationCheck> {
  try {
    return await run();
  } catch (err) {
    return { name, status: 'fail', detail: `could not be completed: ${err instanceof Error ? err.message : String(err)}` };
  }
}
