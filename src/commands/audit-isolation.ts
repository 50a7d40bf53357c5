/**
 * `npm run cli -- audit-isolation`: runs the isolation self-audit against the deployment the
 * environment describes (DATABASE_URL, DATABASE_MIGRATION_URL, REDIS_URL, ENCRYPTION_KEY),
 * prints one line per check and exits 1 if any check failed. Read-only but for the live
 * probe's rolled-back tenants; the run is audited in the platform tenant as `system:cli`.
 */
import type { Services } from '../services.ts';
import { runAs } from '../core/request-context.ts';
import { reportLines, type IsolationReport } from '../isolation/isolation-report.ts';

export async function auditIsolation(services: Services, out: (line: string) => void): Promise<IsolationReport> {
  const report = await runAs({ type: 'system', id: 'system:cli' }, () => services.isolationAudit.run());
  for (const line of reportLines(report)) out(line);
  return report;
}
