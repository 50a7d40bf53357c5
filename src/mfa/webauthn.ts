/**
 * WebAuthn ceremonies (@simplewebauthn/server) for a tenant: the relying party is the
 * tenant's issuer host, so a passkey made at one tenant is never offered to, nor accepted
 * by, another.
 *
 * Challenges are stateless: `<exp>.<nonce>.<mac>`, an HMAC under a per-tenant key of what
 * the ceremony is bound to (an interaction uid, a console session), checked when the
 * response comes back. A response is only useful to whoever holds the bound interaction
 * cookie or console session, within five minutes.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { csrfToken, verifyCsrfToken } from '../core/csrf.ts';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { UserVerification } from './mfa-policy.ts';
import type { WebAuthnCredential } from './mfa-store.ts';

const CHALLENGE_TTL_SECONDS = 300;
// ES256, EdDSA, RS256: what platform authenticators and security keys use today.
const ALGORITHMS = [-7, -8, -257];

export interface RelyingParty {
  /** The tenant's issuer origin, e.g. https://acme.example.com. */
  origin: string;
  /** Its host name (the RP ID). */
  id: string;
  name: string;
}

export function relyingPartyFor(issuer: string, name: string): RelyingParty {
  const url = new URL(issuer);
  return { origin: url.origin, id: url.hostname, name };
}

// A challenge's MAC is the one of form tokens (security/csrf.ts), over the binding, expiry and nonce.
const macInput = (binding: string, exp: string, nonce: string) => `${binding}\u0000${exp}\u0000${nonce}`;

/** A fresh challenge bound to `binding`, as the bytes the authenticator signs. */
export function newChallenge(key: Buffer, binding: string, now = Date.now()): Uint8Array<ArrayBuffer> {
  const exp = String(Math.floor(now / 1000) + CHALLENGE_TTL_SECONDS);
  const nonce = randomBytes(16).toString('base64url');
  const token = `${exp}.${nonce}.${csrfToken([key], macInput(binding, exp, nonce))}`;
  return new Uint8Array(Buffer.from(token, 'utf8'));
}

/** Whether a challenge (base64url, as in clientDataJSON) is one of ours, for this binding, unexpired. */
export function challengeValid(keys: readonly Buffer[], binding: string, challenge: string, now = Date.now()): boolean {
  const [exp = '', nonce = '', given = ''] = Buffer.from(challenge, 'base64url').toString('utf8').split('.');
  if (!/^\d+$/.test(exp) || Number(exp) < now / 1000) return false;
  return verifyCsrfToken(keys, macInput(binding, exp, nonce), given);
}

export function registrationOptions(rp: RelyingParty, user: { id: string; email: string; name: string | null }, existing: readonly WebAuthnCredential[], challenge: Uint8Array<ArrayBuffer>, userVerification: UserVerification): Promise<PublicKeyCredentialCreationOptionsJSON> {
  return generateRegistrationOptions({
    rpName: rp.name,
    rpID: rp.id,
    userName: user.email,
    userDisplayName: user.name ?? user.email,
    userID: new Uint8Array(Buffer.from(user.id.replaceAll('-', ''), 'hex')),
    challenge,
    attestationType: 'none',
    excludeCredentials: existing.map((c) => ({ id: c.credentialId, transports: c.transports })),
    // Discoverable when the authenticator can: that is what makes passwordless sign-in possible.
    authenticatorSelection: { residentKey: 'preferred', userVerification },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

export async function verifyRegistration(rp: RelyingParty, response: RegistrationResponseJSON, challengeOk: (challenge: string) => boolean, userVerification: UserVerification) {
  const result = await verifyRegistrationResponse({
    response,
    expectedChallenge: challengeOk,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
    requireUserVerification: userVerification === 'required',
    supportedAlgorithmIDs: ALGORITHMS,
  });
  return result.verified ? result.registrationInfo : undefined;
}

export function authenticationOptions(rp: RelyingParty, allow: readonly WebAuthnCredential[] | undefined, challenge: Uint8Array<ArrayBuffer>, userVerification: UserVerification): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rp.id,
    challenge,
    userVerification,
    // Empty for passwordless sign-in: the browser offers the site's discoverable passkeys.
    allowCredentials: allow?.map((c) => ({ id: c.credentialId, transports: c.transports })),
  });
}

/**
 * The assertion's authentication info when it verifies. The signature counter is checked here,
 * after the signature: the library refuses a stale counter before it checks the signature, so a
 * registered credential (its counter above 0) would be refused faster than an unknown one (the
 * stand-in key's counter is 0) and the time would tell which ids are registered.
 */
export async function verifyAuthentication(rp: RelyingParty, response: AuthenticationResponseJSON, credential: WebAuthnCredential, challengeOk: (challenge: string) => boolean, requireUserVerification: boolean) {
  const result = await verifyAuthenticationResponse({
    response,
    expectedChallenge: challengeOk,
    expectedOrigin: rp.origin,
    expectedRPID: rp.id,
    requireUserVerification,
    credential: {
      id: credential.credentialId,
      publicKey: new Uint8Array(Buffer.from(credential.publicKey, 'base64url')),
      counter: 0,
      transports: credential.transports,
    },
  });
  if (!result.verified) return undefined;
  // WebAuthn §6.1.1: a counter that did not grow (where either side counts) may be a cloned authenticator.
  const { newCounter } = result.authenticationInfo;
  if ((newCounter > 0 || credential.counter > 0) && newCounter <= credential.counter) return undefined;
  return result.authenticationInfo;
}

/**
 * What an unknown credential id is verified against (issue 19, item 5): a P-256 key of
 * this process that no authenticator holds. An unknown passkey then walks the same checks,
 * signature included, as a known one whose assertion is bad, and fails the same way, so
 * neither the answer nor its time tells whether the id is registered.
 */
let standInKey: string | undefined;
export function standInCredential(credentialId: string): WebAuthnCredential {
  if (!standInKey) {
    const jwk = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });
    // COSE_Key: kty EC2, alg ES256, crv P-256, x, y.
    const cose = new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]);
    standInKey = Buffer.from(isoCBOR.encode(cose)).toString('base64url');
  }
  return { credentialId, userId: '', publicKey: standInKey, counter: 0, transports: [], name: '', deviceType: null, backedUp: false, createdAt: new Date(0), lastUsedAt: null };
}

/**
 * The browser's answer as posted in a form's `response` field (public/webauthn.js): an
 * object, or null for anything else (missing, not JSON, a bare value), which then simply
 * does not verify.
 */
export function parseCredentialResponse<T extends RegistrationResponseJSON | AuthenticationResponseJSON>(value: string | null): T | null {
  try {
    const parsed: unknown = JSON.parse(value ?? 'null');
    return parsed && typeof parsed === 'object' ? (parsed as T) : null;
  } catch {
    return null;
  }
}

export type { AuthenticationResponseJSON, RegistrationResponseJSON };
