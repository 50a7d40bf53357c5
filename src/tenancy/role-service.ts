/**
 * Custom roles of the tenant in context, with validation and an audit event for each change;
 * and the one check every door that gives users roles asks (`checkAssignable`): a role that
 * is neither built in nor defined by the tenant is a 400 naming it.
 */
import type { AuditLog } from '../audit/audit-log.ts';
import { badRequest, notFound } from '../core/errors.ts';
import { BUILT_IN_ROLES, PLATFORM_ONLY_ROLES, ROLE_DESCRIPTION_MAX, checkCustomRoleName } from './role-names.ts';
import type { CustomRole, TenantRoleStore } from './role-store.ts';
import { PLATFORM_TENANT } from './slug.ts';
import type { Tenant } from './tenant.ts';

function description(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') throw badRequest('description: must be a string or null', 'invalid_role');
  const trimmed = value.trim();
  if (trimmed.length > ROLE_DESCRIPTION_MAX) throw badRequest(`description: at most ${ROLE_DESCRIPTION_MAX} characters`, 'invalid_role');
  return trimmed || null;
}

export class RoleService {
  readonly #roles: TenantRoleStore;
  readonly #audit: AuditLog;
  constructor(roles: TenantRoleStore, audit: AuditLog) {
    this.#roles = roles;
    this.#audit = audit;
  }

  list(): Promise<CustomRole[]> {
    return this.#roles.list();
  }

  async get(name: string): Promise<CustomRole> {
    const role = await this.#roles.get(name);
    if (!role) throw notFound(`no role "${name.slice(0, 64)}"`);
    return role;
  }

  async create(input: { name: unknown; description?: unknown }): Promise<CustomRole> {
    const name = checkCustomRoleName(input.name);
    const role = await this.#roles.create(name, description(input.description));
    await this.#audit.record({ action: 'role.created', target: `role:${name}`, details: { name, description: role.description } });
    return role;
  }

  async update(name: string, input: { description?: unknown }): Promise<CustomRole> {
    const role = await this.#roles.update(name, description(input.description));
    if (!role) throw notFound(`no role "${name.slice(0, 64)}"`);
    await this.#audit.record({ action: 'role.updated', target: `role:${name}`, details: { name, description: role.description } });
    return role;
  }

  /** Refused with 409 while a user holds the role or a setting names it (role-store.ts). */
  async delete(name: string): Promise<void> {
    if (!(await this.#roles.delete(name))) throw notFound(`no role "${name.slice(0, 64)}"`);
    await this.#audit.record({ action: 'role.deleted', target: `role:${name}`, details: { name } });
  }

  /** The roles a user of `tenant` may be given: built in, the tenant's own, and platform_admin on the platform tenant. */
  async checkAssignable(tenant: Pick<Tenant, 'slug'>, names: readonly string[], field = 'roles'): Promise<void> {
    const builtIn = new Set<string>([...BUILT_IN_ROLES, ...(tenant.slug === PLATFORM_TENANT ? PLATFORM_ONLY_ROLES : [])]);
    const custom = [...new Set(names.filter((n) => !builtIn.has(n)))];
    const unknown = await this.#roles.unknown(custom);
    if (unknown.length) throw badRequest(`${field}: unknown role ${unknown.map((n) => `"${n.slice(0, 64)}"`).join(', ')} (built in: ${[...builtIn].join(', ')}; define custom roles first)`, 'unknown_role');
  }
}
