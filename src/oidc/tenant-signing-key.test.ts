import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { compactVerify, importJWK, type JWK } from 'jose';
import { TenantSigningKey } from './tenant-signing-key.ts';

function privateJwk(alg: 'RS256' | 'ES256', extra: Partial<JWK> = {}): JWK {
  const { privateKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: `kid-${alg}`, alg, use: 'sig', ...extra };
}

/** A compact JWS made the way oidc-provider makes one with an ExternalSigningKey. */
async function jwsWith(key: TenantSigningKey, payload: object): Promise<string> {
  const encode = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${encode({ alg: key.alg, kid: key.kid })}.${encode(payload)}`;
  const signature = Buffer.from(await key.sign(Buffer.from(input))).toString('base64url');
  return `${input}.${signature}`;
}

describe('TenantSigningKey', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    it(`signs ${alg} JWS that verify against the published public key`, async () => {
      const jwk = privateJwk(alg);
      const key = new TenantSigningKey(jwk);
      const published = { kty: key.kty, kid: key.kid, alg: key.alg, use: key.use, crv: key.crv, x: key.x, y: key.y, n: key.n, e: key.e };
      assert.equal(key.kid, jwk.kid);
      assert.equal(key.alg, alg);
      const { payload } = await compactVerify(await jwsWith(key, { sub: 'x' }), await importJWK(published, alg));
      assert.deepEqual(JSON.parse(Buffer.from(payload).toString()), { sub: 'x' });
    });
  }

  it('never exposes private key material, only the public key', () => {
    const key = new TenantSigningKey(privateJwk('ES256'));
    assert.equal(key.keyObject().type, 'public');
    assert.ok(!('d' in (key.keyObject().export({ format: 'jwk' }) as JWK)));
  });

  it('keeps verify-only key_ops, so oidc-provider never signs with a retired key', () => {
    assert.deepEqual(new TenantSigningKey(privateJwk('RS256', { key_ops: ['verify'] })).key_ops, ['verify']);
    assert.equal(new TenantSigningKey(privateJwk('RS256')).key_ops, undefined);
  });

  it('refuses a key without kid or alg', () => {
    assert.throws(() => new TenantSigningKey({ ...privateJwk('ES256'), kid: undefined }), /kid and alg/);
    assert.throws(() => new TenantSigningKey({ ...privateJwk('ES256'), alg: undefined }), /kid and alg/);
  });
});
