/**
 * Upstream groups or roles onto the tenant's roles, at each federated sign-in (issue 14,
 * item 3). A mapping is a plain function of names: upstream name → tenant role names. Which
 * role names exist is asked of `assignable` (today the fixed `admin` and `member`; a tenant's
 * own roles can be added there without touching the mapping). `owner` is never granted or
 * taken by an upstream: ownership of the tenant stays an act inside Atrium, so a change in
 * the customer's directory can neither hand the tenant over nor leave it without an owner.
 */
import { z } from 'zod';

export const MAX_ROLE_MAPPING_ENTRIES = 200;
const MAX_ROLES_PER_ENTRY = 10;
/** Roles an upstream may grant: `owner` is deliberately absent (see above). */
export const MAPPABLE_ROLES: readonly string[] = ['admin', 'member'];

export type RoleMapping = Readonly<Record<string, readonly string[]>>;

export function roleMappingSchema(assignable: (role: string) => boolean = (r) => MAPPABLE_ROLES.includes(r)) {
  const upstreamName = z.string().min(1).max(256);
  const role = z.string().max(64).refine(assignable, { message: `is not a role an upstream may grant (one of ${MAPPABLE_ROLES.join(', ')})` });
  return z
    .record(upstreamName, z.array(role).min(1).max(MAX_ROLES_PER_ENTRY))
    .refine((m) => Object.keys(m).length <= MAX_ROLE_MAPPING_ENTRIES, `must have at most ${MAX_ROLE_MAPPING_ENTRIES} entries`);
}

/** The tenant roles the upstream names map to (each at most once, in mapping order). */
export function mappedRoles(upstreamNames: readonly string[], mapping: RoleMapping): string[] {
  const out = new Set<string>();
  for (const name of upstreamNames) {
    if (!Object.hasOwn(mapping, name)) continue;
    for (const role of mapping[name]!) out.add(role);
  }
  return [...out];
}

/**
 * A user's roles after a sign-in whose upstream names mapped to `granted`: the mapped roles
 * replace every role an upstream could have granted; `owner` (and any role an upstream may
 * not grant) is kept as it was. Nothing mapped leaves an ordinary `member`.
 */
export function rolesAfterSignIn(current: readonly string[], granted: readonly string[], assignable: (role: string) => boolean = (r) => MAPPABLE_ROLES.includes(r)): string[] {
  const kept = current.filter((r) => !assignable(r));
  const next = [...new Set([...kept, ...granted])];
  return next.length > 0 ? next : ['member'];
}
