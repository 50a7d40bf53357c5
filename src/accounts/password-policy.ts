/**
 * A tenant's password policy (`security.password_policy`): a minimum length that never goes
 * below the platform floor, optional character classes, no password from the list of the
 * most common ones, and never the email address itself. Violations come back as
 * translation keys (for the pages) with an English message (for the API).
 */
import { readFileSync } from 'node:fs';
import type { Tenant } from '../tenancy/tenant.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';

import { PASSWORD_MIN_LENGTH_FLOOR } from '../config/tenant-config-bounds.ts';

export { PASSWORD_MIN_LENGTH_FLOOR } from '../config/tenant-config-bounds.ts';
/** Longer input is refused before hashing: argon2 over megabytes is a denial of service. */
export const PASSWORD_MAX_LENGTH = 1024;

export interface PasswordPolicy {
  minLength: number;
  requireUppercase: boolean;
  requireDigit: boolean;
  requireSymbol: boolean;
}

export interface PasswordViolation {
  /** A key of locales/<lang>/password.json. */
  key: 'too_short' | 'too_long' | 'needs_uppercase' | 'needs_digit' | 'needs_symbol' | 'too_common' | 'is_email';
  vars?: Record<string, number>;
  message: string;
}

/** The tenant's policy, from its merged `security` section: the operator's floor is applied there. */
export function passwordPolicy(tenant: Pick<Tenant, 'config'>): PasswordPolicy {
  const security = mergedSection(tenant, 'security') as { password_policy?: Record<string, unknown> };
  const p = security.password_policy ?? {};
  const min = typeof p.min_length === 'number' ? p.min_length : PASSWORD_MIN_LENGTH_FLOOR;
  return {
    minLength: Math.min(Math.max(min, PASSWORD_MIN_LENGTH_FLOOR), PASSWORD_MAX_LENGTH),
    requireUppercase: p.require_uppercase === true,
    requireDigit: p.require_digit === true,
    requireSymbol: p.require_symbol === true,
  };
}

const COMMON_PASSWORDS_FILE = new URL('./common-passwords.txt', import.meta.url);
let commonPasswords: Set<string> | undefined;

/** The shipped list (10,000 entries, lowercased), read once on first use. */
export function isCommonPassword(password: string): boolean {
  commonPasswords ??= new Set(
    readFileSync(COMMON_PASSWORDS_FILE, 'utf8')
      .split('\n')
      .filter((line) => line && !line.startsWith('#')),
  );
  return commonPasswords.has(password.toLowerCase());
}

/** Everything wrong with `password` under the tenant's policy; empty when it is acceptable. */
export function passwordViolations(tenant: Pick<Tenant, 'config'>, password: string, email: string): PasswordViolation[] {
  const policy = passwordPolicy(tenant);
  const out: PasswordViolation[] = [];
  // Length in characters as people count them (code points), not UTF-16 units.
  const length = [...password].length;
  if (length < policy.minLength) out.push({ key: 'too_short', vars: { min: policy.minLength }, message: `must be at least ${policy.minLength} characters` });
  if (length > PASSWORD_MAX_LENGTH) out.push({ key: 'too_long', vars: { max: PASSWORD_MAX_LENGTH }, message: `must be at most ${PASSWORD_MAX_LENGTH} characters` });
  if (policy.requireUppercase && !/\p{Lu}/u.test(password)) out.push({ key: 'needs_uppercase', message: 'must contain an uppercase letter' });
  if (policy.requireDigit && !/\p{Nd}/u.test(password)) out.push({ key: 'needs_digit', message: 'must contain a digit' });
  if (policy.requireSymbol && !/[^\p{L}\p{N}]/u.test(password)) out.push({ key: 'needs_symbol', message: 'must contain a symbol' });
  if (isCommonPassword(password)) out.push({ key: 'too_common', message: 'is one of the most common passwords' });
  const lowered = password.toLowerCase();
  const address = email.trim().toLowerCase();
  const local = address.split('@')[0] ?? '';
  if (address && (lowered === address || (local.length >= 3 && lowered === local))) out.push({ key: 'is_email', message: 'must not be the email address' });
  return out;
}
