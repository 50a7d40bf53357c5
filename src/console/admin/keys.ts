/**
 * /admin/keys: the tenant's signing keys (public part and schedule) and an immediate
 * rotation, done by the same TenantService call as the management API's `keys/rotate`
 * (the next key becomes current, every instance rebuilds the Provider).
 */
import type Router from '@koa/router';
import { keyJson } from '../../api/serialize.ts';
import { doneNotice, freshTenant, renderAdminPage, requireAdmin, seeOther, tenantOf, type AdminDeps } from './admin-console.ts';

export function mountKeyRoutes(router: Router, deps: AdminDeps): void {
  router.get('/keys', async function listKeys(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const tenant = await freshTenant(ctx, deps);
    const keys = (await deps.keys.list()).map((k) => keyJson(k, tenant));
    await renderAdminPage(ctx, 'keys', principal, 'keys', { title: 'admin.keys_title', keys, done: doneNotice(ctx, ['rotated']) });
  });

  router.post('/keys/rotate', async function rotateKeys(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    await deps.consoleAuth.readForm(ctx, principal);
    const tenant = tenantOf(ctx);
    await deps.keyLifecycle.rotateNow(tenant);
    seeOther(ctx, '/admin/keys?done=rotated');
  });
}
