/**
 * A tenant's MFA settings (`security.mfa`, `security.webauthn`, platform floor applied) and
 * the levels of assurance Atrium signs into ID tokens (`acr`, with the methods in `amr`).
 */
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { perTenantRecord } from '../tenancy/per-tenant-record.ts';

/** Signed in with one factor: a password, an upstream IdP, a passkey without user verification. */
export const ACR_SINGLE_FACTOR = 'urn:atrium:loa:1';
/** Signed in with two factors: password + TOTP / recovery code / security key, or a user-verified passkey. */
export const ACR_MULTI_FACTOR = 'urn:atrium:loa:2';
/** Advertised in discovery (`acr_values_supported`), lowest first. */
export const ACR_VALUES = [ACR_SINGLE_FACTOR, ACR_MULTI_FACTOR] as const;

export type UserVerification = 'required' | 'preferred' | 'discouraged';

export interface MfaPolicy {
  required: 'off' | 'admins' | 'all';
  totpEnabled: boolean;
  webauthnEnabled: boolean;
  userVerification: UserVerification;
}

/** Once per tenant record (per-tenant-record.ts). */
export const mfaPolicy = perTenantRecord((tenant: Pick<Tenant, 'config'>): Readonly<MfaPolicy> => {
  const security = mergedSection(tenant, 'security') as { mfa?: { required?: string; totp_enabled?: boolean }; webauthn?: { enabled?: boolean; user_verification?: string } };
  const required = security.mfa?.required;
  const uv = security.webauthn?.user_verification;
  return Object.freeze({
    required: required === 'admins' || required === 'all' ? required : 'off',
    totpEnabled: security.mfa?.totp_enabled !== false,
    webauthnEnabled: security.webauthn?.enabled !== false,
    userVerification: uv === 'required' || uv === 'discouraged' ? uv : 'preferred',
  });
});

const ADMIN_ROLES = ['owner', 'admin', 'platform_admin'];

/** Whether the tenant's policy makes this user use a second factor. */
export function mfaRequiredFor(policy: MfaPolicy, user: { roles: readonly string[] }): boolean {
  if (policy.required === 'all') return true;
  return policy.required === 'admins' && user.roles.some((r) => ADMIN_ROLES.includes(r));
}

/**
 * Whether an authorization request asks for multi-factor assurance: its `acr_values`
 * (or `claims.id_token.acr`) name the MFA level and not the level the session already has.
 */
export function asksForMultiFactor(requested: readonly string[] | undefined, sessionAcr: string | undefined): boolean {
  if (!requested?.length || (sessionAcr && requested.includes(sessionAcr))) return false;
  return requested.includes(ACR_MULTI_FACTOR);
}

export function acrFor(amr: readonly string[]): string {
  return amr.length >= 2 ? ACR_MULTI_FACTOR : ACR_SINGLE_FACTOR;
}
