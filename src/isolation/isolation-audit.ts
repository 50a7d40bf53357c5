/**
 * The isolation self-audit (`npm run cli -- audit-isolation`, GET
 * /api/v1/platform/isolation-report): inspects the live database and deployment and reports
 * one result per check. Read-only, except the live probe's two throwaway tenants, which are
 * written and read inside one transaction that is rolled back. Each run is recorded as an
 * audit event of the platform tenant (`platform.isolation_audit`), with its outcome and the
 * names of the checks that failed.
 */
import type { AtriumConfig } from '../config/env.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { Database } from '../storage/database.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { runAsTenant } from '../core/request-context.ts';
import { platformTenantSlug } from '../tenancy/tenant.ts';
import { guarded, reportOf, type IsolationCheck, type IsolationReport } from './isolation-report.ts';
import { checkTableClassification, checkTenantTables, readTables, tenantTables } from './schema-checks.ts';
import { checkDatabaseRoles } from './role-checks.ts';
import { checkSealedColumns } from './sealed-columns.ts';
import { checkRedisKeys } from './redis-keys.ts';
import { runLiveProbe } from './live-probe.ts';

export interface IsolationAuditDeps {
  config: AtriumConfig;
  db: Database;
  box: SecretBox;
  audit: AuditLog;
}

export class IsolationAudit {
  readonly #deps: IsolationAuditDeps;

  constructor(deps: IsolationAuditDeps) {
    this.#deps = deps;
  }

  /** Runs every check (the actor is the request's or the CLI's, from the context) and records the run. */
  async run(): Promise<IsolationReport> {
    const { config, db, box } = this.#deps;
    const tables = await db.crossTenant('isolation audit: read the schema', (q) => readTables(q)).catch(() => undefined);
    const checks: IsolationCheck[] = [
      await guarded('tenant-tables', async () => {
        if (!tables) throw new Error('the schema could not be read');
        return db.crossTenant('isolation audit: read policies', (q) => checkTenantTables(q, tables));
      }),
      await guarded('table-classification', async () => {
        if (!tables) throw new Error('the schema could not be read');
        return checkTableClassification(tables);
      }),
      await guarded('database-roles', () => checkDatabaseRoles(db.driver, { splitLogins: Boolean(config.databaseUrl && config.databaseMigrationUrl) })),
      await guarded('redis-keys', () => checkRedisKeys(config.redis)),
      await guarded('sealed-columns', () => checkSealedColumns(db, box)),
      await guarded('live-probe', async () => {
        if (!tables) throw new Error('the schema could not be read');
        return runLiveProbe(db, tenantTables(tables));
      }),
    ];
    const report = reportOf(checks);
    await this.#record(report);
    return report;
  }

  async #record(report: IsolationReport): Promise<void> {
    const { config, db, audit } = this.#deps;
    const platform = await db
      .crossTenant('isolation audit: find the platform tenant', (q) => q.query<{ id: string }>('SELECT id FROM tenants WHERE slug = $1', [platformTenantSlug(config)]))
      .then((r) => r.rows[0]?.id, () => undefined);
    if (!platform) return; // no platform tenant yet (before bootstrap): nowhere to record, and nothing to protect
    const failed = report.checks.filter((c) => c.status === 'fail').map((c) => c.name);
    await runAsTenant(platform, () =>
      audit.record({ action: 'platform.isolation_audit', target: 'deployment', outcome: report.status === 'passed' ? 'success' : 'failure', details: { status: report.status, failed } }),
    );
  }
}
