/**
 * Names of roles. The built-in roles (owner, admin, member) decide console access; a tenant's
 * custom roles (tenant_roles) grant nothing in Atrium and travel to relying parties in the
 * opt-in `roles` claim. A custom role may not look like a built-in or platform role, so an
 * app reading the claim can never mistake one for the other.
 */
import { badRequest } from '../core/errors.ts';

export const BUILT_IN_ROLES = ['owner', 'admin', 'member'] as const;
/** Roles only users of the platform tenant can hold. */
export const PLATFORM_ONLY_ROLES = ['platform_admin'] as const;
export const ROLE_NAME = /^[a-z0-9_-]{1,64}$/;
export const ROLE_NAME_MAX = 64;
export const ROLE_DESCRIPTION_MAX = 500;

/** A name stripped of what makes lookalikes: case, whitespace, `_` and `-` ("Ad min", "platform-admin"). */
const skeleton = (name: string) => name.normalize('NFKC').toLowerCase().replace(/[\s_-]+/g, '');
const RESERVED = new Set([...BUILT_IN_ROLES, ...PLATFORM_ONLY_ROLES].map(skeleton));

export const isBuiltInRole = (name: string) => (BUILT_IN_ROLES as readonly string[]).includes(name) || (PLATFORM_ONLY_ROLES as readonly string[]).includes(name);

/** A new custom role's name, or a 400 that says what is wrong with it (reserved first: "Admin " is reserved, not merely malformed). */
export function checkCustomRoleName(name: unknown): string {
  if (typeof name !== 'string') throw badRequest('name: must be a string', 'invalid_role');
  if (RESERVED.has(skeleton(name))) throw badRequest(`name: "${name.slice(0, 64)}" is reserved (owner, admin, member and platform_admin are built in)`, 'invalid_role');
  if (!ROLE_NAME.test(name)) throw badRequest(`name: must be 1-${ROLE_NAME_MAX} characters of a-z, 0-9, "_" and "-"`, 'invalid_role');
  return name;
}
