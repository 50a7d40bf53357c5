/**
 * Recovery codes: ten single-use codes shown once, stored only as HMAC-SHA256 under a key
 * derived from the master key and bound to tenant and user, so a database dump alone does
 * not let anyone test guesses, and a code of one user is nothing for another.
 */
import { createHmac, randomInt } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
// No 0/O, 1/I/L: codes are read off paper and typed by hand.
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';
const GROUP = 5;

/** `xxxxx-xxxxx`: 10 characters of a 31-letter alphabet, about 49 bits each. */
export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    let code = '';
    for (let i = 0; i < GROUP * 2; i++) code += ALPHABET[randomInt(ALPHABET.length)];
    return `${code.slice(0, GROUP)}-${code.slice(GROUP)}`;
  });
}

/** What a typed code is compared as: lowercase, without spaces or dashes. */
export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s-]/g, '').slice(0, 64);
}

export function hashRecoveryCode(key: Buffer, tenantId: string, userId: string, code: string): string {
  return createHmac('sha256', key).update(`${tenantId}\u0000${userId}\u0000${normalizeRecoveryCode(code)}`).digest('base64url');
}
