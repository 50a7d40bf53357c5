/**
 * Passkey assertions (webauthn.ts verifyAuthentication): the signature counter still refuses a
 * replay, and it is checked after the signature, so a known credential with a stale counter
 * walks the same checks as an unknown one (the stand-in key) and a bad signature. Otherwise
 * the early refusal would answer faster for a registered credential id (issue 19, item 5).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { relyingPartyFor, verifyAuthentication } from './webauthn.ts';
import type { WebAuthnCredential } from './mfa-store.ts';

const rp = relyingPartyFor('https://acme.example.test', 'Acme');
const anyChallenge = () => true;

function credentialFor(publicKey: KeyObject, counter: number): WebAuthnCredential {
  const jwk = publicKey.export({ format: 'jwk' });
  const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
  return { credentialId: randomBytes(16).toString('base64url'), userId: 'user-1', publicKey: Buffer.from(cose).toString('base64url'), counter, transports: [], name: 'key', deviceType: null, backedUp: false, createdAt: new Date(0), lastUsedAt: null };
}

/** An assertion for `rp` of `credentialId` with the authenticator's `counter`, signed with `key`. */
function assertion(credentialId: string, counter: number, key: KeyObject): AuthenticationResponseJSON {
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge: 'c2lnbi1pbg', origin: rp.origin, crossOrigin: false }));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  // rpIdHash, flags (user present, user verified), counter.
  const authenticatorData = Buffer.concat([createHash('sha256').update(rp.id).digest(), Buffer.from([0x05]), count]);
  const signature = sign('sha256', Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]), key);
  return {
    id: credentialId,
    rawId: credentialId,
    type: 'public-key',
    response: { clientDataJSON: clientDataJSON.toString('base64url'), authenticatorData: authenticatorData.toString('base64url'), signature: signature.toString('base64url') },
    clientExtensionResults: {},
  };
}

describe('passkey assertions', () => {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const wrongKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

  it('accepts a good signature with a higher counter and returns the new counter', async () => {
    const credential = credentialFor(publicKey, 5);
    const info = await verifyAuthentication(rp, assertion(credential.credentialId, 6, privateKey), credential, anyChallenge, false);
    assert.equal(info?.newCounter, 6);
  });

  it('refuses a replayed counter even with a good signature', async () => {
    const credential = credentialFor(publicKey, 5);
    for (const counter of [5, 3, 0]) {
      // Refused as the caller sees it: no answer, or an error (mfa-service.ts catches both).
      const info = await verifyAuthentication(rp, assertion(credential.credentialId, counter, privateKey), credential, anyChallenge, false).catch(() => undefined);
      assert.equal(info, undefined, `counter ${counter}`);
    }
  });

  it('checks the signature before the counter, so a stale counter is refused like a bad signature', async () => {
    const credential = credentialFor(publicKey, 5);
    // Both end the same way: no answer, no error that a stale counter alone would raise first.
    assert.equal(await verifyAuthentication(rp, assertion(credential.credentialId, 0, wrongKey), credential, anyChallenge, false), undefined);
    assert.equal(await verifyAuthentication(rp, assertion(credential.credentialId, 9, wrongKey), credential, anyChallenge, false), undefined);
  });
});
