/**
 * What signs and checks a tenant's oidc-provider cookies (Koa's `app.keys`, which the
 * `cookies` package calls). It makes exactly the signatures keygrip makes as `cookies` uses
 * it (HMAC-SHA1, base64url without padding), so cookies signed before an upgrade stay valid,
 * and honours keygrip's contract: `sign` with the first key, `index` says which key a
 * signature was made with (`cookies` re-signs with the first key when it was not) or -1.
 *
 * Our own code rather than keygrip because of what keygrip costs per request on Node 24:
 * it hands createHmac Buffer keys, which Node prepares ~8 times slower than a KeyObject,
 * and compares through tsscmp, which runs two more HMACs under a fresh random Buffer key
 * per comparison. Cookie HMACs were ~11% of the main thread's CPU in a password sign-in
 * (perf). Here the keys are KeyObjects made once and digests are compared with
 * timingSafeEqual.
 */
import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';

export class CookieSigner {
  readonly #keys: readonly KeyObject[];

  constructor(keys: readonly Buffer[]) {
    if (keys.length === 0) throw new Error('CookieSigner: no keys');
    this.#keys = keys.map((key) => createSecretKey(key));
  }

  sign(data: string): string {
    return mac(this.#keys[0]!, data);
  }

  verify(data: string, digest: string): boolean {
    return this.index(data, digest) > -1;
  }

  /** The index of the key `digest` was made with, or -1. The length compared first is the digest's, which is public. */
  index(data: string, digest: string): number {
    const given = Buffer.from(String(digest));
    for (let i = 0; i < this.#keys.length; i++) {
      const expected = Buffer.from(mac(this.#keys[i]!, data));
      if (expected.length === given.length && timingSafeEqual(expected, given)) return i;
    }
    return -1;
  }
}

const mac = (key: KeyObject, data: string) => createHmac('sha1', key).update(data).digest('base64url');
