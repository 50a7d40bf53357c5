/**
 * /api/v1/tenants/:slug/roles: a tenant's custom roles (tenancy/role-service.ts). Reading
 * needs atrium:cross-tenant:read (a tenant's own token: atrium:tenant:read), changes
 * atrium:cross-tenant:write; every change is audited in the tenant. A role held by a user
 * or named by `security.roles` is not deleted (409).
 */
import { z } from 'zod';
import type { Context } from 'koa';
import { readJson } from '../web/body.ts';
import { badRequest, notFound } from '../core/errors.ts';
import type { RoleService } from '../tenancy/role-service.ts';
import type { CustomRole } from '../tenancy/role-store.ts';
import { ROLE_DESCRIPTION_MAX, ROLE_NAME } from '../tenancy/role-names.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { roleSchema } from './api-schemas.ts';
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

const tag = 'Roles';
const description = z.string().max(ROLE_DESCRIPTION_MAX).nullable().optional();

export const listRoles = defineRoute({
  method: 'get', path: '/tenants/:slug/roles', operationId: 'listRoles', tag, summary: 'List the tenant\'s custom roles',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The roles, with how many users hold each.', schema: z.object({ roles: z.array(roleSchema) }) } },
});
export const createRole = defineRoute({
  method: 'post', path: '/tenants/:slug/roles', operationId: 'createRole', tag, summary: 'Create a custom role',
  scope: 'atrium:cross-tenant:write', errors: [409],
  // Checked by roleBody (unknown fields named) and the role service (name, length).
  serviceBody: z.strictObject({ name: z.string().regex(ROLE_NAME), description }),
  responses: { 201: { description: 'The role; Location names it.', schema: roleSchema } },
});
export const getRole = defineRoute({
  method: 'get', path: '/tenants/:slug/roles/:role', operationId: 'getRole', tag, summary: 'Read a custom role',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'The role.', schema: roleSchema } },
});
export const updateRole = defineRoute({
  method: 'patch', path: '/tenants/:slug/roles/:role', operationId: 'updateRole', tag, summary: 'Change a role\'s description',
  scope: 'atrium:cross-tenant:write',
  serviceBody: z.strictObject({ description }),
  responses: { 200: { description: 'The role as updated.', schema: roleSchema } },
});
export const deleteRole = defineRoute({
  method: 'delete', path: '/tenants/:slug/roles/:role', operationId: 'deleteRole', tag, summary: 'Delete a custom role',
  description: 'A role held by a user or named by `security.roles` is not deleted (409).',
  scope: 'atrium:cross-tenant:write', errors: [409],
  responses: { 204: { description: 'Deleted.' } },
});

export function mountRoleRoutes(routes: ApiRoutes, deps: RoleRouteDeps): void {
  const target = targetTenant(deps.store);

  routes.add(listRoles, [target], async function listRoles(ctx) {
    ctx.body = { roles: (await deps.roles.list()).map(roleJson) };
  });
  routes.add(createRole, [target], async function createRole(ctx) {
    const body = await roleBody(ctx, ['name', 'description']);
    const role = await deps.roles.create({ name: body.name, description: body.description });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/tenants/${ctx.state.target.slug}/roles/${role.name}`);
    ctx.body = roleJson(role);
  });
  routes.add(getRole, [target], async function getRole(ctx) {
    ctx.body = roleJson(await deps.roles.get(roleParam(ctx)));
  });
  routes.add(updateRole, [target], async function updateRole(ctx) {
    const name = roleParam(ctx);
    const body = await roleBody(ctx, ['description']);
    ctx.body = roleJson(await deps.roles.update(name, { description: body.description }));
  });
  routes.add(deleteRole, [target], async function deleteRole(ctx) {
    await deps.roles.delete(roleParam(ctx));
    ctx.status = 204;
  });
}
