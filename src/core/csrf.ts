/**
 * CSRF tokens for server-rendered forms: an HMAC of the form's binding (for interactions,
 * the interaction uid, itself bound to the browser by oidc-provider's cookie) under a
 * per-tenant key. Compared in constant time.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';

/** Buffers or KeyObjects; on Node 24 createHmac takes a KeyObject several times faster. */
type MacKey = Buffer | KeyObject;

export function csrfToken(keys: readonly MacKey[], binding: string): string {
  return createHmac('sha256', keys[0]!).update(binding).digest('base64url');
}

export function verifyCsrfToken(keys: readonly MacKey[], binding: string, token: unknown): boolean {
  if (typeof token !== 'string' || token.length === 0) return false;
  const given = Buffer.from(token);
  return keys.some((key) => {
    const expected = Buffer.from(createHmac('sha256', key).update(binding).digest('base64url'));
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
}
