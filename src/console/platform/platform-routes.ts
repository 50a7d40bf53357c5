/**
 * /platform on the platform tenant's host: the web console of platform admins. Tenants are
 * listed, created, inspected, suspended, reactivated and deleted, their configuration
 * edited, their users and audit log read, and the operator's policy above them set
 * (/platform/policy, previewed before it is saved); every change is audited in the tenant it
 * affects, by `platform:<admin user id>`. Server-rendered, CSRF-checked forms, no script.
 *
 * Every route starts with `requirePlatformAdmin`: a 404 on any other tenant's host, then
 * sign-in (GET) or 401 (other methods), then 403 for anyone not a platform admin.
 */
import Router from '@koa/router';
import type { PlatformDeps } from './platform-console.ts';
import { mountTenantConfigRoutes } from './tenant-config-routes.ts';
import { mountTenantDetailRoutes } from './tenant-detail-routes.ts';
import { mountTenantListRoutes } from './tenant-list-routes.ts';
import { mountTenantRecordRoutes } from './tenant-records-routes.ts';
import { mountTenantQuotaRoutes } from './tenant-quota-routes.ts';
import { mountPolicyRoutes } from './policy-routes.ts';

export function platformRoutes(deps: PlatformDeps): Router {
  const router = new Router({ prefix: '/platform' });
  mountTenantListRoutes(router, deps);
  mountTenantDetailRoutes(router, deps);
  mountTenantConfigRoutes(router, deps);
  mountTenantRecordRoutes(router, deps);
  mountTenantQuotaRoutes(router, deps);
  mountPolicyRoutes(router, deps);
  return router;
}
