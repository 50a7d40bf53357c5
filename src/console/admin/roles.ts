/**
 * /admin/roles: the tenant's custom roles (list with how many users hold each, create with a
 * description, delete), through the same RoleService as the management API, so names are
 * checked and every change audited alike. A custom role grants nothing in /admin or
 * /platform: it is a label for relying parties (the opt-in `roles` claim). Roles are given
 * to users on each user's page.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { ConsolePrincipal } from '../console-auth.ts';
import { doneNotice, formError, renderAdminPage, requireAdmin, seeOther, type AdminDeps } from './admin-console.ts';

const NOTICES = ['role_created', 'role_deleted'] as const;

async function renderRoles(deps: AdminDeps, ctx: Context, principal: ConsolePrincipal, values: Record<string, string> = {}, error?: string): Promise<void> {
  await renderAdminPage(ctx, 'roles', principal, 'roles', { title: 'admin.roles_title', roles: await deps.roles.list(), values, done: doneNotice(ctx, NOTICES), error });
}

export function mountRoleRoutes(router: Router, deps: AdminDeps): void {
  router.get('/roles', async function listRoles(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    await renderRoles(deps, ctx, principal);
  });

  router.post('/roles', async function createRole(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    const form = await deps.consoleAuth.readForm(ctx, principal);
    const values = { name: form.get('name') ?? '', description: form.get('description') ?? '' };
    try {
      await deps.roles.create({ name: values.name, description: values.description || null });
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      return renderRoles(deps, ctx, principal, values, error.message);
    }
    seeOther(ctx, '/admin/roles?done=role_created');
  });

  router.post('/roles/:role/delete', async function deleteRole(ctx) {
    const principal = requireAdmin(ctx, deps);
    if (!principal) return;
    await deps.consoleAuth.readForm(ctx, principal);
    try {
      await deps.roles.delete(String(ctx.params.role ?? ''));
    } catch (err) {
      const error = formError(err);
      ctx.status = error.status;
      return renderRoles(deps, ctx, principal, {}, error.message);
    }
    seeOther(ctx, '/admin/roles?done=role_deleted');
  });
}
