/**
 * The decisions of the second-factor step of a sign-in, apart from its pages
 * (interactions/mfa-*.ts): whether a second factor is due, which factors a user can use,
 * and the shape of a sign-in parked until one is verified.
 */
import type { RateLimitRule } from '../security/rate-limiter.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { asksForMultiFactor, mfaPolicy, mfaRequiredFor, type MfaPolicy } from './mfa-policy.ts';
import type { MfaService, MfaStatus } from './mfa-service.ts';

/**
 * The sign-in waiting for its second factor, kept in the interaction's result
 * (`result.atrium_mfa`, stored server-side by oidc-provider and bound to the browser).
 */
export interface PendingMfa {
  accountId: string;
  /** Methods of the first factor, e.g. ['pwd']. */
  amr: string[];
  /** Set once a second factor is verified during enrolment; the sign-in finishes with it. */
  verified?: string;
}

/** Ten attempts per account per 15 minutes across interactions: a 6-digit code cannot be walked. */
export const MFA_ATTEMPTS: RateLimitRule = { name: 'mfa_per_account', limit: 10, windowSeconds: 15 * 60 };

/** The acr values an authorization request asks for: `acr_values` and the `claims` parameter's id_token acr. */
export function requestedAcr(params: Record<string, unknown>): string[] {
  const values = typeof params.acr_values === 'string' ? params.acr_values.split(' ').filter(Boolean) : [];
  if (typeof params.claims === 'string') {
    try {
      const acr = (JSON.parse(params.claims) as { id_token?: { acr?: { value?: unknown; values?: unknown } } }).id_token?.acr;
      if (Array.isArray(acr?.values)) values.push(...acr.values.filter((v): v is string => typeof v === 'string'));
      else if (typeof acr?.value === 'string') values.push(acr.value);
    } catch {
      /* oidc-provider already refused malformed claims */
    }
  }
  return values;
}

/** Factors this user can use under the tenant's policy. */
export function usableFactors(policy: MfaPolicy, status: MfaStatus): { totp: boolean; passkeys: boolean } {
  return { totp: policy.totpEnabled && status.totp, passkeys: policy.webauthnEnabled && status.passkeys.length > 0 };
}

/**
 * Whether a sign-in whose first factor is done (a password, a passkey without user
 * verification, an upstream IdP) goes on to a second one: the user has one, the tenant's
 * policy requires one, or the client asked for the MFA acr.
 */
export async function secondFactorDue(mfa: Pick<MfaService, 'status'>, tenant: Tenant, user: { id: string; roles: readonly string[] }, params: Record<string, unknown>): Promise<boolean> {
  const policy = mfaPolicy(tenant);
  if (!policy.totpEnabled && !policy.webauthnEnabled) return false; // no method to offer
  const methods = usableFactors(policy, await mfa.status(user.id));
  return methods.totp || methods.passkeys || mfaRequiredFor(policy, user) || asksForMultiFactor(requestedAcr(params), undefined);
}

/** The pending sign-in an upstream IdP's callback parks in the interaction when a second factor is due. */
export function pendingAfterFederation(accountId: string): { atrium_mfa: PendingMfa } {
  return { atrium_mfa: { accountId, amr: ['fed'] } };
}
