/**
 * /api/v1/tenants/:slug/roles: a tenant's custom roles (tenancy/role-service.ts). Reading
 * needs atrium:cross-tenant:read (a tenant's own token: atrium:tenant:read), changes
 * atrium:cross-tenant:write; every change is audited in the tenant. A role held by a user
 * or named by `security.roles` is not deleted (409).
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { readJson } from '../web/body.ts';
import { badRequest, notFound } from '../core/errors.ts';
import type { RoleService } from '../tenancy/role-service.ts';
import type { CustomRole } from '../tenancy/role-store.ts';
import { ROLE_NAME } from '../tenancy/role-names.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';

export interface RoleRouteDeps {
  store: TenantStore;
  roles: RoleService;
}

const roleJson = (r: CustomRole) => ({ name: r.name, description: r.description, users: r.users, created_at: r.createdAt.toISOString(), updated_at: r.updatedAt.toISOString() });

/** The role of the path; a name no role could have is simply not found. */
function roleParam(ctx: Context): string {
  const name = String(ctx.params.role ?? '');
  if (!ROLE_NAME.test(name)) throw notFound(`no role "${name.slice(0, 64)}"`);
  return name;
}

/** A JSON object with only the fields a role has (anything else is named in a 400). */
async function roleBody(ctx: Context, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const body = await readJson(ctx);
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object', 'invalid_role');
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length) throw badRequest(`unknown field(s): ${unknown.map((k) => k.slice(0, 64)).join(', ')} (allowed: ${allowed.join(', ')})`, 'invalid_role');
  return body as Record<string, unknown>;
}

export function mountRoleRoutes(router: Router, deps: RoleRouteDeps): void {
  const target = targetTenant(deps.store);
  const read = [requireScope('atrium:cross-tenant:read'), target];
  const write = [requireScope('atrium:cross-tenant:write'), target];

  router.get('/tenants/:slug/roles', ...read, async function listRoles(ctx) {
    ctx.body = { roles: (await deps.roles.list()).map(roleJson) };
  });
  router.post('/tenants/:slug/roles', ...write, async function createRole(ctx) {
    const body = await roleBody(ctx, ['name', 'description']);
    const role = await deps.roles.create({ name: body.name, description: body.description });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tenants/${ctx.state.target.slug}/roles/${role.name}`);
    ctx.body = roleJson(role);
  });
  router.get('/tenants/:slug/roles/:role', ...read, async function getRole(ctx) {
    ctx.body = roleJson(await deps.roles.get(roleParam(ctx)));
  });
  router.patch('/tenants/:slug/roles/:role', ...write, async function updateRole(ctx) {
    const name = roleParam(ctx);
    const body = await roleBody(ctx, ['description']);
    ctx.body = roleJson(await deps.roles.update(name, { description: body.description }));
  });
  router.delete('/tenants/:slug/roles/:role', ...write, async function deleteRole(ctx) {
    await deps.roles.delete(roleParam(ctx));
    ctx.status = 204;
  });
}
