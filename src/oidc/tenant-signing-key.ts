/**
 * A tenant's signing key as oidc-provider's ExternalSigningKey, holding Node KeyObjects.
 *
 * Why: given private JWKs, every new Provider clones them and imports each one again on
 * its first signature (jose caches an imported key per JWK object, and the clone is a new
 * object). The pool rebuilds Providers all the time (evictions, version changes), so that
 * import was paid again and again. These keys are imported once per tenant *version*
 * (tenant-materials.ts) and shared by every Provider built at that version; each Provider
 * still gets exactly the keys of its version. The private key never leaves this object:
 * oidc-provider reads the public members (JWKS) from the getters, verifies with
 * `keyObject()` (the public key) and calls `sign()` for signatures, which run on libuv's
 * thread pool as jose's WebCrypto ones do.
 */
import { createPrivateKey, createPublicKey, webcrypto, type KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { ExternalSigningKey } from 'oidc-provider';

/** The WebCrypto algorithms for each JWS algorithm Atrium may hold keys for: to import the key, and to sign. */
function webCryptoAlgorithms(alg: string): { importAs: Parameters<KeyObject['toCryptoKey']>[0]; signWith: webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams } {
  const bits = alg.slice(2);
  const hash = `SHA-${bits}`;
  if (alg.startsWith('RS')) return { importAs: { name: 'RSASSA-PKCS1-v1_5', hash }, signWith: { name: 'RSASSA-PKCS1-v1_5' } };
  if (alg.startsWith('PS')) return { importAs: { name: 'RSA-PSS', hash }, signWith: { name: 'RSA-PSS', saltLength: Number(bits) / 8 } };
  if (alg === 'ES256' || alg === 'ES384' || alg === 'ES512') {
    return { importAs: { name: 'ECDSA', namedCurve: `P-${bits === '512' ? '521' : bits}` }, signWith: { name: 'ECDSA', hash } };
  }
  if (alg === 'EdDSA' || alg === 'Ed25519') return { importAs: { name: 'Ed25519' }, signWith: { name: 'Ed25519' } };
  throw new Error(`unsupported signing algorithm ${alg}`);
}

export class TenantSigningKey extends ExternalSigningKey {
  readonly #jwk: JWK;
  readonly #algorithms: ReturnType<typeof webCryptoAlgorithms>;
  readonly #keyOps: string[] | undefined;
  #kid: string;
  #alg: string;
  // Imported on first use, once per tenant version: a Provider publishing its JWKS (discovery,
  // a cold tenant) needs neither.
  #privateKey: KeyObject | undefined;
  #publicKey: KeyObject | undefined;
  #signingKey: webcrypto.CryptoKey | undefined;

  /** `jwk`: a private JWK with `kid` and `alg` (signing-keys.ts); `key_ops: ['verify']` marks a key that only verifies. */
  constructor(jwk: JWK) {
    super();
    if (!jwk.kid || !jwk.alg) throw new Error('a signing key needs its kid and alg');
    this.#jwk = jwk;
    this.#algorithms = webCryptoAlgorithms(jwk.alg);
    this.#keyOps = jwk.key_ops ? [...jwk.key_ops] : undefined;
    this.#kid = jwk.kid;
    this.#alg = jwk.alg;
  }

  override get kid(): string {
    return this.#kid;
  }

  // oidc-provider may assign kid and alg while registering a key; both are always set here already.
  override set kid(kid: string) {
    this.#kid = kid;
  }

  override get alg(): string {
    return this.#alg;
  }

  override set alg(alg: string) {
    this.#alg = alg;
  }

  // The public members oidc-provider publishes, read from the JWK (the base class would
  // import the key to export them).
  override get kty(): string {
    return this.#jwk.kty!;
  }

  override get crv(): string | undefined {
    return this.#jwk.crv;
  }

  override get x(): string | undefined {
    return this.#jwk.x;
  }

  override get y(): string | undefined {
    return this.#jwk.y;
  }

  override get n(): string | undefined {
    return this.#jwk.n;
  }

  override get e(): string | undefined {
    return this.#jwk.e;
  }

  override get pub(): string | undefined {
    return undefined;
  }

  // Retired and next keys are published for verification only: oidc-provider never picks
  // a key whose key_ops lack 'sign' to sign with.
  override get key_ops(): string[] | undefined {
    return this.#keyOps;
  }

  /** The public key: what oidc-provider verifies with. */
  override keyObject(): KeyObject {
    this.#publicKey ??= createPublicKey(this.#private());
    return this.#publicKey;
  }

  // WebCrypto rather than crypto.sign's callback form: both sign on libuv's pool, but this
  // one leaves the event loop less to do per signature (measured: ~1.5x the signatures per
  // second at 32 in flight). ECDSA signatures come out as JWS wants them (IEEE P1363).
  override async sign(data: Uint8Array): Promise<Buffer> {
    this.#signingKey ??= this.#private().toCryptoKey(this.#algorithms.importAs, false, ['sign']);
    return Buffer.from(await webcrypto.subtle.sign(this.#algorithms.signWith, this.#signingKey, data));
  }

  #private(): KeyObject {
    this.#privateKey ??= createPrivateKey({ key: this.#jwk, format: 'jwk' });
    return this.#privateKey;
  }
}
