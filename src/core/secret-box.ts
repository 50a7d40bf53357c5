/**
 * Encryption at rest: AES-256-GCM under the master key, with the key id in every sealed
 * value (`v1.<kid>.<iv>.<tag>.<ciphertext>`) so the master key can be rotated: new values
 * use the current key, old ones still open with a retired key until re-sealed.
 */
import { LRUCache } from 'lru-cache';
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';

interface Key {
  id: string;
  bytes: Buffer;
}

function toKey(base64: string): Key {
  const bytes = Buffer.from(base64, 'base64');
  if (bytes.length !== 32) throw new Error('an encryption key must be 32 bytes');
  return { id: createHash('sha256').update(bytes).digest('base64url').slice(0, 8), bytes };
}

export class SecretBox {
  readonly #current: Key;
  readonly #keys: Map<string, Key>;
  readonly #derived = new LRUCache<string, Buffer[]>({ max: 50_000 });

  constructor(currentKey: string, retiredKeys: readonly string[] = []) {
    this.#current = toKey(currentKey);
    this.#keys = new Map([this.#current, ...retiredKeys.map(toKey)].map((k) => [k.id, k]));
  }

  get keyId(): string {
    return this.#current.id;
  }

  /** `context` (e.g. tenant id and purpose) is bound as additional data: a value sealed for one tenant does not open for another. */
  seal(plaintext: string, context: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#current.bytes, iv);
    cipher.setAAD(Buffer.from(context));
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', this.#current.id, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
  }

  open(sealed: string, context: string): string {
    const [version, kid, iv, tag, ct] = sealed.split('.');
    if (version !== 'v1' || !kid || !iv || !tag || ct === undefined) throw new Error('not a sealed value');
    const key = this.#keys.get(kid);
    if (!key) throw new Error(`sealed with unknown key ${kid}`);
    const decipher = createDecipheriv('aes-256-gcm', key.bytes, Buffer.from(iv, 'base64url'));
    decipher.setAAD(Buffer.from(context));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }

  /**
   * Keys derived from the master keys for one purpose (cookie signing, CSRF), current first,
   * so a master key rotation keeps verifying what the retired key signed.
   */
  deriveKeys(purpose: string, context: string): Buffer[] {
    // Cached: tenants' Providers are rebuilt often (pool evictions), their keys never change.
    const id = `${purpose}\u0000${context}`;
    let keys = this.#derived.get(id);
    if (!keys) {
      keys = [...this.#keys.values()].map((k) => Buffer.from(hkdfSync('sha256', k.bytes, context, `atrium:${purpose}`, 32)));
      this.#derived.set(id, keys);
    }
    return keys;
  }

  /**
   * What a stored value is, without opening it (the isolation self-audit samples sealed
   * columns with no context at hand): an envelope of this box's format under one of its
   * keys, an envelope under a key it does not hold, or not an envelope at all (plaintext).
   */
  classify(value: string): 'sealed' | 'unknown-key' | 'not-sealed' {
    const parts = value.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') return 'not-sealed';
    const [, kid, iv, tag, ct] = parts as [string, string, string, string, string];
    const b64url = /^[A-Za-z0-9_-]*$/;
    if (![kid, iv, tag, ct].every((p) => b64url.test(p)) || kid.length !== 8 || ct.length === 0) return 'not-sealed';
    if (Buffer.from(iv, 'base64url').length !== 12 || Buffer.from(tag, 'base64url').length !== 16) return 'not-sealed';
    return this.#keys.has(kid) ? 'sealed' : 'unknown-key';
  }

  /** Whether a value was sealed with a retired key and should be re-sealed. */
  isStale(sealed: string): boolean {
    return sealed.split('.')[1] !== this.#current.id;
  }
}
