/**
 * GET /api/v1/platform/isolation-report: runs the isolation self-audit (isolation/) on the
 * live deployment and answers 200 with `{status: 'passed'|'failed', checked_at, checks:
 * [{name, status: 'pass'|'fail'|'skip', detail, problems?}]}`; a failed audit is a result, not
 * an error. Platform-wide, so it needs atrium:cross-tenant:read on a platform token; a
 * tenant's own token never reaches it. The run is audited in the platform tenant.
 */
import type Router from '@koa/router';
import type { IsolationAudit } from '../isolation/isolation-audit.ts';
import type { PlatformConfig } from '../tenancy/platform-config.ts';
import { readJson } from '../web/body.ts';
import { requireScope } from './authenticate.ts';

export interface PlatformRouteDeps {
  isolationAudit: IsolationAudit;
  platformConfig: PlatformConfig;
}

export function mountPlatformRoutes(router: Router, deps: PlatformRouteDeps): void {
  router.get('/platform/isolation-report', requireScope('atrium:cross-tenant:read'), async function isolationReport(ctx) {
    ctx.body = await deps.isolationAudit.run();
  });

  // The operator's policy above the tenants (config/platform-policy.ts), one section at a time:
  // GET shows every bounded field with its floor, ceiling or default in force; PUT replaces the
  // operator's settings of the section (what it omits returns to the built-in value) and
  // answers with the section and the tenants whose effective values it moved.
  router.get('/platform/config/:section', requireScope('atrium:platform:read'), async function getPlatformConfig(ctx) {
    ctx.body = deps.platformConfig.read(String(ctx.params.section ?? ''));
  });

  // The dry run of a PUT: the same validation, and the tenants whose values in force the change
  // would move (their own value, the value now, the value after), with nothing stored.
  router.post('/platform/config/:section/preview', requireScope('atrium:platform:write'), async function previewPlatformConfig(ctx) {
    const section = String(ctx.params.section ?? '');
    const { affected } = await deps.platformConfig.preview(section, await readJson(ctx));
    ctx.body = { section, version: deps.platformConfig.read(section).version, affected_tenants: affected };
  });

  router.put('/platform/config/:section', requireScope('atrium:platform:write'), async function putPlatformConfig(ctx) {
    ctx.body = await deps.platformConfig.update(String(ctx.params.section ?? ''), await readJson(ctx));
  });
}
