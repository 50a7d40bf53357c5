/**
 * GET /api/v1/platform/isolation-report: runs the isolation self-audit (isolation/) on the
 * live deployment and answers 200 with `{status: 'passed'|'failed', checked_at, checks:
 * [{name, status: 'pass'|'fail'|'skip', detail, problems?}]}`; a failed audit is a result, not
 * an error. Platform-wide, so it needs atrium:cross-tenant:read on a platform token; a
 * tenant's own token never reaches it. The run is audited in the platform tenant.
 */
import { z } from 'zod';
import type { IsolationAudit } from '../isolation/isolation-audit.ts';
import type { PlatformConfig } from '../tenancy/platform-config.ts';
import { readJson } from '../web/body.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { isolationReportSchema, pathParams, platformSectionSchema } from './api-schemas.ts';

export interface PlatformRouteDeps {
  isolationAudit: IsolationAudit;
  platformConfig: PlatformConfig;
}

const tag = 'Platform';
const params = { section: pathParams.platformSection };

export const isolationReport = defineRoute({
  method: 'get', path: '/platform/isolation-report', operationId: 'runIsolationAudit', tag, summary: 'Run the isolation self-audit on this deployment',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The audit\'s checks; a failed audit is a result, not an error.', schema: isolationReportSchema } },
});
export const getPlatformConfig = defineRoute({
  method: 'get', path: '/platform/config/:section', operationId: 'getPlatformConfigSection', tag, summary: 'The operator\'s policy for one section',
  scope: 'atrium:platform:read', params,
  responses: { 200: { description: 'Every bounded field with its floor, ceiling or default in force.', schema: platformSectionSchema } },
});
export const putPlatformConfig = defineRoute({
  method: 'put', path: '/platform/config/:section', operationId: 'putPlatformConfigSection', tag, summary: 'Replace the operator\'s settings of one section',
  description: 'What the body omits returns to the built-in value. Each field takes `floor`, `ceiling` and/or `default`; an unknown field or a bound out of order is a 400 naming it.',
  scope: 'atrium:platform:write', params,
  serviceBody: z.record(z.string(), z.unknown()).describe('The section\'s bounded fields by path, e.g. {"password_policy": {"min_length": {"floor": 12}}} (config/platform-policy.ts).'),
  responses: { 200: { description: 'The section, and the tenants whose effective values it moved.', schema: platformSectionSchema.extend({ affected_tenants: z.array(z.string()) }) } },
});

export const previewPlatformConfig = defineRoute({
  method: 'post', path: '/platform/config/:section/preview', operationId: 'previewPlatformConfigSection', tag, summary: 'Dry run of a PUT: the tenants the change would move',
  description: 'The same body and validation as the PUT; nothing is stored. Each affected tenant lists, per field, its own stored value (absent: none), the value in force now and after.',
  scope: 'atrium:platform:write', params,
  serviceBody: putPlatformConfig.serviceBody,
  responses: {
    200: {
      description: 'The section\'s current version and the tenants whose values in force would change.',
      schema: z.object({
        section: z.string(),
        version: z.int(),
        affected_tenants: z.array(z.object({ slug: z.string(), name: z.string(), changes: z.array(z.object({ field: z.string(), own: z.unknown().optional(), from: z.unknown(), to: z.unknown() })) })),
      }),
    },
  },
});

export function mountPlatformRoutes(routes: ApiRoutes, deps: PlatformRouteDeps): void {
  routes.add(isolationReport, [], async function isolationReport(ctx) {
    ctx.body = await deps.isolationAudit.run();
  });

  // The operator's policy above the tenants (config/platform-policy.ts), one section at a time:
  // GET shows every bounded field with its floor, ceiling or default in force; PUT replaces the
  // operator's settings of the section (what it omits returns to the built-in value) and
  // answers with the section and the tenants whose effective values it moved.
  routes.add(getPlatformConfig, [], async function getPlatformConfig(ctx) {
    ctx.body = deps.platformConfig.read(String(ctx.params.section ?? ''));
  });

  // The dry run of a PUT: the same validation, and the tenants whose values in force the change
  // would move (their own value, the value now, the value after), with nothing stored.
  routes.add(previewPlatformConfig, [], async function previewPlatformConfig(ctx) {
    const section = String(ctx.params.section ?? '');
    const { affected } = await deps.platformConfig.preview(section, await readJson(ctx));
    ctx.body = { section, version: deps.platformConfig.read(section).version, affected_tenants: affected };
  });

  routes.add(putPlatformConfig, [], async function putPlatformConfig(ctx) {
    ctx.body = await deps.platformConfig.update(String(ctx.params.section ?? ''), await readJson(ctx));
  });
}
