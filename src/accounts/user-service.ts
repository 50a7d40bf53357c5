/**
 * Creating, changing and deleting users of the tenant in context, with the tenant's
 * password policy; every change audited here, as the request's actor.
 */
import { badRequest, conflict, notFound } from '../core/errors.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { hashPassword } from './password.ts';
import { passwordViolations } from './password-policy.ts';
import { publicUser, type User, type UserStore } from './user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RoleService } from '../tenancy/role-service.ts';

export { BUILT_IN_ROLES as TENANT_ROLES, PLATFORM_ONLY_ROLES as PLATFORM_ROLES } from '../tenancy/role-names.ts';
export { PASSWORD_MIN_LENGTH_FLOOR } from './password-policy.ts';

/** The tenant's password policy (password-policy.ts) as an API error: a 400 naming every problem. */
export function checkPassword(tenant: Tenant, password: string, email: string): void {
  const violations = passwordViolations(tenant, password, email);
  if (violations.length) throw badRequest(violations.map((v) => `password: ${v.message}`).join('; '), 'invalid_password');
}

export class UserService {
  readonly #users: UserStore;
  readonly #audit: AuditLog;
  readonly #roles: Pick<RoleService, 'checkAssignable'>;
  constructor(users: UserStore, audit: AuditLog, roles: Pick<RoleService, 'checkAssignable'>) {
    this.#users = users;
    this.#audit = audit;
    this.#roles = roles;
  }

  #record(action: string, userId: string, details: Record<string, unknown> = {}): Promise<void> {
    return this.#audit.record({ action, target: userId, details });
  }

  async create(tenant: Tenant, input: { email: string; password?: string; name?: string | null; emailVerified?: boolean; roles?: string[] }): Promise<User> {
    if (input.password !== undefined) checkPassword(tenant, input.password, input.email);
    // Hashed before the transaction: it is slow on purpose, and holds no row meanwhile.
    const passwordHash = input.password === undefined ? null : await hashPassword(input.password);
    if (input.roles) await this.#roles.checkAssignable(tenant, input.roles);
    return this.#audit.together(async () => {
      if (await this.#users.findByEmail(input.email)) throw conflict('a user with this email already exists in this tenant');
      const user = await this.#users.create({ email: input.email, passwordHash, name: input.name, emailVerified: input.emailVerified, roles: input.roles });
      await this.#record('user.created', user.id, { email: user.email, roles: user.roles });
      return publicUser(user);
    });
  }

  async update(tenant: Tenant, id: string, changes: { email?: string; password?: string; name?: string | null; emailVerified?: boolean; roles?: string[]; status?: 'active' | 'disabled' }): Promise<User> {
    const passwordHash = changes.password === undefined ? undefined : await hashPassword(changes.password);
    return this.#audit.together(async () => {
      const current = await this.#users.findById(id);
      if (!current) throw notFound('no such user');
      if (changes.password !== undefined) checkPassword(tenant, changes.password, changes.email ?? current.email);
      if (changes.roles) await this.#roles.checkAssignable(tenant, changes.roles);
      if (changes.email && changes.email.toLowerCase() !== current.email.toLowerCase() && (await this.#users.findByEmail(changes.email))) {
        throw conflict('a user with this email already exists in this tenant');
      }
      const updated = await this.#users.update(id, { email: changes.email, name: changes.name, emailVerified: changes.emailVerified, roles: changes.roles, status: changes.status, passwordHash });
      if (!updated) throw notFound('no such user');
      await this.#recordUpdate(current, updated, changes);
      return publicUser(updated);
    });
  }

  /** Role and status changes get events of their own (they decide access); the rest one `user.updated`. */
  async #recordUpdate(before: User, after: User, changes: Record<string, unknown>): Promise<void> {
    const sameRoles = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((r) => b.includes(r));
    if (changes.roles !== undefined && !sameRoles(before.roles, after.roles)) await this.#record('user.roles_changed', after.id, { from: before.roles, to: after.roles });
    if (changes.status !== undefined && changes.status !== before.status) await this.#record(after.status === 'disabled' ? 'user.disabled' : 'user.enabled', after.id);
    const fields = Object.keys(changes).filter((k) => changes[k] !== undefined && k !== 'roles' && k !== 'status');
    if (fields.length) await this.#record('user.updated', after.id, { fields });
  }

  /** Deletes a user (the store keeps the last active owner). */
  async delete(id: string): Promise<void> {
    await this.#audit.together(async () => {
      const user = await this.#users.findById(id);
      if (!user || !(await this.#users.delete(id))) throw notFound('no such user');
      await this.#record('user.deleted', id, { email: user.email });
    });
  }
}
