/**
 * When a tenant's signing keys rotate and when its retired keys may leave the JWKS: the
 * tenant's `oidc` overrides, bounded by platform limits. Pure functions; the key lifecycle
 * job acts on them and the management API shows them.
 */
import type { Tenant } from '../tenancy/tenant.ts';
import type { SigningKeyInfo } from './signing-keys.ts';
import { tokenLifetimes } from './token-lifetimes.ts';

import { KEY_ROTATION_DAYS } from '../config/tenant-config-bounds.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';

export { KEY_ROTATION_DAYS } from '../config/tenant-config-bounds.ts';

/**
 * Kept past the longest lifetime of the tokens a key signs: relying parties verify with
 * some clock skew and from a cached JWKS, and the job that removes keys runs periodically.
 */
export const RETIRED_KEY_MARGIN_SECONDS = 3600;

const DAY_SECONDS = 86_400;

/** `oidc.key_rotation_days` of the tenant, within the platform bounds; anything else is the default. */
export function keyRotationDays(tenant: Pick<Tenant, 'config'>): number {
  // Merged: the tenant's value or the operator's default, within the operator's floor and ceiling.
  const value = mergedSection(tenant, 'oidc').key_rotation_days;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) return KEY_ROTATION_DAYS.default;
  return Math.min(Math.max(value, KEY_ROTATION_DAYS.min), KEY_ROTATION_DAYS.max);
}

/** How old current keys may get before the schedule replaces them. */
export function keyRotationSeconds(tenant: Pick<Tenant, 'config'>): number {
  return keyRotationDays(tenant) * DAY_SECONDS;
}

/**
 * How long a retired key stays published: the keys sign ID tokens (RS256) and JWT access
 * tokens (ES256), so the longer of the two lifetimes, plus the margin. The lifetimes are the
 * tenant's *current* ones: lowering a TTL by more than the margin right after a rotation
 * could remove a key while a token it signed under the old TTL is still unexpired.
 */
export function retiredKeyRetentionSeconds(tenant: Pick<Tenant, 'config'>): number {
  const ttl = tokenLifetimes(tenant);
  return Math.max(ttl.accessToken, ttl.idToken) + RETIRED_KEY_MARGIN_SECONDS;
}

/** When the schedule rotates a current key, and when a retired key is removed; null otherwise. */
export function keyDeadlines(key: Pick<SigningKeyInfo, 'status' | 'createdAt' | 'activatedAt' | 'retiredAt'>, tenant: Pick<Tenant, 'config'>): { rotatesAt: Date | null; expiresAt: Date | null } {
  if (key.status === 'current') {
    const since = key.activatedAt ?? key.createdAt;
    return { rotatesAt: new Date(since.getTime() + keyRotationSeconds(tenant) * 1000), expiresAt: null };
  }
  if (key.status === 'retired') {
    const since = key.retiredAt ?? key.createdAt;
    return { rotatesAt: null, expiresAt: new Date(since.getTime() + retiredKeyRetentionSeconds(tenant) * 1000) };
  }
  return { rotatesAt: null, expiresAt: null };
}
