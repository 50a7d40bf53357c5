/**
 * The `state` sent to an upstream: `<tenant id>.<expiry>.<random id>.<mac>`, where the MAC is
 * an HMAC-SHA256 under a key derived from the master key for the tenant. The `_ops` relay
 * can thus check, before any lookup, that a state was minted by this deployment for that
 * tenant and has not expired, and send the browser on to that tenant only. The random id
 * names the pending sign-in row, which is what makes a state single-use.
 */
import { randomBytes } from 'node:crypto';
import { csrfToken as mac, verifyCsrfToken as macMatches } from '../core/csrf.ts';
import type { SecretBox } from '../core/secret-box.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const STATE = /^([0-9a-f-]{36})\.(\d{10,12})\.([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})$/;

export interface VerifiedState {
  tenantId: string;
  stateId: string;
  expiresAt: Date;
  expired: boolean;
}

// The MAC is the one of form tokens (security/csrf.ts: HMAC-SHA256, base64url, any key of the list verifies).
const keysFor = (box: SecretBox, tenantId: string) => box.deriveKeys('federation-state', tenantId);

export function mintState(box: SecretBox, tenantId: string, ttlSeconds: number, now = Date.now()): { state: string; stateId: string; expiresAt: Date } {
  const stateId = randomBytes(32).toString('base64url');
  const exp = Math.floor(now / 1000) + ttlSeconds;
  const payload = `${tenantId}.${exp}.${stateId}`;
  return { state: `${payload}.${mac(keysFor(box, tenantId), payload)}`, stateId, expiresAt: new Date(exp * 1000) };
}

/** The state's parts when its MAC verifies (an expired one too, flagged, so the user hears why); else undefined. */
export function verifyState(box: SecretBox, state: unknown, now = Date.now()): VerifiedState | undefined {
  if (typeof state !== 'string') return undefined;
  const m = STATE.exec(state);
  if (!m || !UUID.test(m[1]!)) return undefined;
  const [, tenantId, exp, stateId, given] = m as unknown as [string, string, string, string, string];
  const payload = `${tenantId}.${exp}.${stateId}`;
  if (!macMatches(keysFor(box, tenantId), payload, given)) return undefined;
  const expiresAt = new Date(Number(exp) * 1000);
  return { tenantId, stateId, expiresAt, expired: expiresAt.getTime() <= now };
}
