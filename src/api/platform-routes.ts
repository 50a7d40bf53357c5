/**
 * GET /api/v1/platform/isolation-report: runs the isolation self-audit (isolation/) on the
 * live deployment and answers 200 with `{status: 'passed'|'failed', checked_at, checks:
 * [{name, status: 'pass'|'fail'|'skip', detail, problems?}]}`; a failed audit is a result, not
 * an error. Platform-wide, so it needs atrium:cross-tenant:read on a platform token; a
 * tenant's own token never reaches it. The run is audited in the platform tenant.
 */
import type Router from '@koa/router';
import type { IsolationAudit } from '../isolation/isolation-audit.ts';
import { requireScope } from './authenticate.ts';

export interface PlatformRouteDeps {
  isolationAudit: IsolationAudit;
}

export function mountPlatformRoutes(router: Router, deps: PlatformRouteDeps): void {
  router.get('/platform/isolation-report', requireScope('atrium:cross-tenant:read'), async function isolationReport(ctx) {
    ctx.body = await deps.isolationAudit.run();
  });
}
