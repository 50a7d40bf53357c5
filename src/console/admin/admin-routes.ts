/**
 * /admin on each tenant's host: the tenant's own administration for its owners and
 * admins (and platform admins handed off from /platform). Server-rendered pages, forms
 * checked against the console session's CSRF token, every change audited in the tenant.
 * One module per area; this one mounts them and serves the overview.
 */
import Router from '@koa/router';
import { mountAuditRoutes } from './audit.ts';
import { mountBrandingRoutes } from './branding.ts';
import { mountClientRoutes } from './clients.ts';
import { mountKeyRoutes } from './keys.ts';
import { mountSecurityRoutes } from './security.ts';
import { mountUserRoutes } from './users.ts';
import { mountRoleRoutes } from './roles.ts';
import { mountWebhookRoutes } from './webhooks.ts';
import { renderAdminPage, requireAdmin, tenantOf, type AdminDeps } from './admin-console.ts';

export function adminRoutes(deps: AdminDeps): Router {
  const router = new Router({ prefix: '/admin' });

  router.get('/', async function overview(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    // The usage shown against the quotas counts users and clients already: the counts are its.
    const quota = await deps.quotaService.report(tenantOf(ctx));
    const counts = { users: quota.usage.users, clients: quota.usage.clients };
    await renderAdminPage(ctx, 'overview', principal, 'overview', { title: 'admin.overview_title', tenant: tenantOf(ctx), counts, quota });
  });

  mountUserRoutes(router, deps);
  mountRoleRoutes(router, deps);
  mountClientRoutes(router, deps);
  mountBrandingRoutes(router, deps);
  mountSecurityRoutes(router, deps);
  mountKeyRoutes(router, deps);
  mountWebhookRoutes(router, deps);
  mountAuditRoutes(router, deps);
  return router;
}
