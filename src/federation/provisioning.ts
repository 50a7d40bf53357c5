/**
 * Turns a validated upstream identity into a user of the tenant in context:
 *   - an upstream account seen before (its `iss` + `sub`) is that user;
 *   - else, an email already used by a user of the tenant is linked only when the
 *     connection allows it and the upstream says the email is verified;
 *   - else, a new user is created (the tenant's first user becomes its owner).
 * With a role mapping, the user's roles follow the upstream's groups at every sign-in
 * (role-mapping.ts).
 */
import type { User, UserStore } from '../accounts/user-store.ts';
import { publicUser } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { ClaimsMapping } from './connection-schema.ts';
import { claimAt, namesAt } from './claim-paths.ts';
import { changedClaims, PROFILE_CLAIMS, profileValue, type Profile } from '../accounts/profile-claims.ts';
import type { PhoneStore } from '../accounts/phone-store.ts';
import { e164 } from '../config/phone-number.ts';
import { mappedRoles, rolesAfterSignIn, type RoleMapping } from './role-mapping.ts';
import type { IdentityStore } from './identity-store.ts';
import { FederationError } from './federation-error.ts';

/** What Atrium keeps from the upstream's claims, per the connection's mapping. */
export interface MappedClaims {
  issuer: string;
  subject: string;
  email: string | undefined;
  emailVerified: boolean;
  name: string | undefined;
  /** The upstream's groups or roles (claims_mapping.roles), or undefined when no path is mapped. */
  groups: string[] | undefined;
  /**
   * The profile claims (given_name ... address, updated_at) as they pass their checks; it
   * replaces the user's at each sign-in. Undefined where there is no mapping (social sign-in):
   * the user's profile is then left as it is.
   */
  profile?: Profile;
  /** A valid number the upstream said is verified (phone_number with phone_number_verified true). */
  phone?: string;
  /** Mapping targets whose path found nothing in the upstream's claims (reported in the audit). */
  unmapped: string[];
  /** Mapping targets whose value failed its check and was dropped (logged and reported in the audit). */
  dropped?: string[];
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/;

export function mapClaims(claims: Record<string, unknown>, mapping: ClaimsMapping): MappedClaims {
  const email = claimAt(claims, mapping.email);
  const verified = claimAt(claims, mapping.email_verified);
  const name = claimAt(claims, mapping.name);
  const targets = (Object.keys(mapping) as (keyof ClaimsMapping)[]).filter((k) => mapping[k] !== undefined);
  const unmapped = targets.filter((k) => claimAt(claims, mapping[k]!) === undefined);
  const dropped: string[] = [];
  const profile: Profile = {};
  for (const claim of PROFILE_CLAIMS) {
    const raw = mapping[claim] === undefined ? undefined : claimAt(claims, mapping[claim]);
    if (raw === undefined) continue;
    const value = profileValue(claim, raw);
    if (value === undefined) dropped.push(claim);
    else (profile as Record<string, unknown>)[claim] = value;
  }
  const phone = mappedPhone(claims, mapping, dropped);
  const cleanName = typeof name === 'string' && name.trim() ? name.trim().slice(0, 200) : undefined;
  if (name !== undefined && cleanName === undefined) dropped.push('name');
  return {
    issuer: String(claims.iss),
    subject: String(claims.sub),
    email: typeof email === 'string' && EMAIL.test(email.trim()) ? email.trim().toLowerCase() : undefined,
    // Some upstreams send "true" as a string.
    emailVerified: verified === true || verified === 'true',
    name: cleanName,
    // Bounded: a huge upstream group list costs one lookup per name, at most 1000.
    groups: mapping.roles === undefined ? undefined : namesAt(claims, mapping.roles).slice(0, 1000),
    profile,
    ...(phone ? { phone } : {}),
    unmapped,
    dropped,
  };
}

/** The mapped phone number in E.164 when it is valid and the upstream says it is verified; what fails its check goes to `dropped`. */
function mappedPhone(claims: Record<string, unknown>, mapping: ClaimsMapping, dropped: string[]): string | undefined {
  const rawNumber = mapping.phone_number === undefined ? undefined : claimAt(claims, mapping.phone_number);
  const rawVerified = mapping.phone_number_verified === undefined ? undefined : claimAt(claims, mapping.phone_number_verified);
  const number = typeof rawNumber === 'string' ? e164(rawNumber) : undefined;
  if (rawNumber !== undefined && number === undefined) dropped.push('phone_number');
  const verified = rawVerified === true || rawVerified === 'true' ? true : rawVerified === false || rawVerified === 'false' ? false : undefined;
  if (rawVerified !== undefined && verified === undefined) dropped.push('phone_number_verified');
  return verified ? number : undefined;
}

export interface ProvisionContext {
  connectionName: string;
  displayName: string;
  linkByVerifiedEmail: boolean;
  /** Upstream group → tenant roles; applied when the claims carry groups (a roles path is mapped). */
  roleMapping: RoleMapping;
  audit: { ip: string; userAgent: string };
}

export class Provisioning {
  readonly #users: UserStore;
  readonly #identities: IdentityStore;
  readonly #audit: AuditLog;
  readonly #phones: PhoneStore;
  constructor(users: UserStore, identities: IdentityStore, audit: AuditLog, phones: PhoneStore) {
    this.#users = users;
    this.#identities = identities;
    this.#audit = audit;
    this.#phones = phones;
  }

  async userFor(claims: MappedClaims, context: ProvisionContext): Promise<{ user: User; outcome: 'returning' | 'linked' | 'created' }> {
    const found = await this.#findOrCreate(claims, context);
    const user = await this.#applyProfile(found.user, claims, context);
    if (claims.groups === undefined) return { ...found, user };
    return { ...found, user: await this.#applyRoles(user, claims.groups, context) };
  }

  /**
   * The user's profile claims, name and phone as the upstream sent them at this sign-in,
   * written (and audited, naming the claims that changed) only when something differs.
   * Absent or invalid values leave the profile claim empty; the name and a phone number are
   * only ever replaced, never emptied: both may have been set in Atrium itself.
   */
  async #applyProfile(user: User, claims: MappedClaims, context: ProvisionContext): Promise<User> {
    if (claims.profile === undefined) return user;
    const changed: string[] = changedClaims(user.profile, claims.profile);
    const name = claims.name !== undefined && claims.name !== user.name ? claims.name : undefined;
    if (name !== undefined) changed.push('name');
    let current = user;
    if (changed.length > 0) {
      const updated = await this.#users.writeProfile(user.id, { profile: claims.profile, ...(name !== undefined ? { name } : {}) });
      if (!updated) throw new FederationError('account_disabled', 403);
      current = publicUser(updated);
    }
    if (claims.phone !== undefined && claims.phone !== user.verifiedPhone && (await this.#phones.takeFromUpstream(user.id, claims.phone))) {
      changed.push('phone_number');
      current = { ...current, verifiedPhone: claims.phone };
    }
    if (changed.length === 0) return user;
    await this.#audit.record({
      action: 'user.profile_updated',
      actor: `federation:${context.connectionName}`,
      target: user.id,
      ip: context.audit.ip,
      userAgent: context.audit.userAgent,
      // The claim names, not their values: the audit log is no second copy of personal data.
      details: { connection: context.connectionName, source: 'claims_mapping', changed },
    });
    return current;
  }

  /** The user's roles as the upstream's groups map them, changed (and audited) only when they differ. */
  async #applyRoles(user: User, groups: string[], context: ProvisionContext): Promise<User> {
    const next = rolesAfterSignIn(user.roles, mappedRoles(groups, context.roleMapping));
    if (next.length === user.roles.length && next.every((r) => user.roles.includes(r))) return user;
    const updated = await this.#users.update(user.id, { roles: next });
    if (!updated) throw new FederationError('account_disabled', 403);
    await this.#audit.record({
      action: 'user.roles_changed',
      actor: `federation:${context.connectionName}`,
      target: user.id,
      ip: context.audit.ip,
      userAgent: context.audit.userAgent,
      details: { from: user.roles, to: updated.roles, connection: context.connectionName, source: 'role_mapping' },
    });
    return publicUser(updated);
  }

  async #findOrCreate(claims: MappedClaims, context: ProvisionContext): Promise<{ user: User; outcome: 'returning' | 'linked' | 'created' }> {
    const details = { connection: context.connectionName, issuer: claims.issuer, subject: claims.subject };
    const known = await this.#identities.touch(claims.issuer, claims.subject);
    if (known) {
      const user = await this.#users.findById(known.userId);
      if (!user || user.status !== 'active') {
        throw new FederationError('account_disabled', 403);
      }
      await this.#users.recordLogin(user.id);
      return { user: publicUser(user), outcome: 'returning' };
    }
    if (!claims.email) {
      throw new FederationError('email_missing', 400, { provider: context.displayName });
    }
    const existing = await this.#users.findByEmail(claims.email);
    if (existing) {
      if (!context.linkByVerifiedEmail || !claims.emailVerified) {
        await this.#audit.record({ action: 'federation.link_refused', outcome: 'failure', actor: null, target: existing.id, ip: context.audit.ip, userAgent: context.audit.userAgent, details: { ...details, email_verified: claims.emailVerified } });
        throw new FederationError('account_exists', 409, { email: claims.email, provider: context.displayName });
      }
      if (existing.status !== 'active') throw new FederationError('account_disabled', 403);
      await this.#identities.link({ issuer: claims.issuer, subject: claims.subject, connectionName: context.connectionName, userId: existing.id, email: claims.email });
      await this.#users.recordLogin(existing.id);
      await this.#audit.record({ action: 'federation.identity_linked', actor: existing.id, target: existing.id, ip: context.audit.ip, userAgent: context.audit.userAgent, details: { ...details, email: claims.email } });
      return { user: publicUser(existing), outcome: 'linked' };
    }
    const created = await this.#users.create({ email: claims.email, passwordHash: null, name: claims.name ?? null, emailVerified: claims.emailVerified });
    await this.#identities.link({ issuer: claims.issuer, subject: claims.subject, connectionName: context.connectionName, userId: created.id, email: claims.email });
    await this.#users.recordLogin(created.id);
    await this.#audit.record({ action: 'user.created', actor: `federation:${context.connectionName}`, target: created.id, ip: context.audit.ip, userAgent: context.audit.userAgent, details: { ...details, roles: created.roles } });
    return { user: publicUser(created), outcome: 'created' };
  }
}
