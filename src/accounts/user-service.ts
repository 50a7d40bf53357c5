/** Creating and changing users of the tenant in context, with the tenant's password policy. */
import { badRequest, conflict, notFound } from '../http/errors.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { hashPassword } from './password.ts';
import { passwordViolations } from './password-policy.ts';
import { publicUser, type User, type UserStore } from './user-store.ts';

export const TENANT_ROLES = ['owner', 'admin', 'member'] as const;
export const PLATFORM_ROLES = ['platform_admin'] as const;
export { PASSWORD_MIN_LENGTH_FLOOR } from './password-policy.ts';

/** The tenant's password policy (password-policy.ts) as an API error: a 400 naming every problem. */
export function checkPassword(tenant: Tenant, password: string, email: string): void {
  const violations = passwordViolations(tenant, password, email);
  if (violations.length) throw badRequest(violations.map((v) => `password: ${v.message}`).join('; '), 'invalid_password');
}

export class UserService {
  readonly #users: UserStore;
  constructor(users: UserStore) {
    this.#users = users;
  }

  async create(tenant: Tenant, input: { email: string; password?: string; name?: string | null; emailVerified?: boolean; roles?: string[] }): Promise<User> {
    if (input.password !== undefined) checkPassword(tenant, input.password, input.email);
    if (await this.#users.findByEmail(input.email)) throw conflict('a user with this email already exists in this tenant');
    const user = await this.#users.create({
      email: input.email,
      passwordHash: input.password === undefined ? null : await hashPassword(input.password),
      name: input.name,
      emailVerified: input.emailVerified,
      roles: input.roles,
      defaultRole: 'member',
    });
    return publicUser(user);
  }

  async update(tenant: Tenant, id: string, changes: { email?: string; password?: string; name?: string | null; emailVerified?: boolean; roles?: string[]; status?: 'active' | 'disabled' }): Promise<User> {
    const current = await this.#users.findById(id);
    if (!current) throw notFound('no such user');
    if (changes.password !== undefined) checkPassword(tenant, changes.password, changes.email ?? current.email);
    if (changes.email && changes.email.toLowerCase() !== current.email.toLowerCase() && (await this.#users.findByEmail(changes.email))) {
      throw conflict('a user with this email already exists in this tenant');
    }
    const updated = await this.#users.update(id, {
      email: changes.email,
      name: changes.name,
      emailVerified: changes.emailVerified,
      roles: changes.roles,
      status: changes.status,
      passwordHash: changes.password === undefined ? undefined : await hashPassword(changes.password),
    });
    if (!updated) throw notFound('no such user');
    return publicUser(updated);
  }
}
