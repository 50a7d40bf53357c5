/**
 * The key that binds a transaction's database context (one tenant, or the platform) to the
 * application: migration 012's policies honour `app.tenant_id` and `atrium_platform` only
 * with `app.context_proof` = HMAC-SHA256(key, 'tenant:<id>' | 'platform'). The key is in a
 * table only the owner reads, so it is loaded here through the owner (migration) login at
 * start, created on first start. Proofs travel as bind parameters, never in statement text,
 * which other connections of the same login could read in pg_stat_activity.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Driver } from './driver.ts';

const BLOCK = 64; // SHA-256 block size: HMAC pads the key to it

export class ContextKey {
  readonly #key: Buffer;
  readonly #platform: string;
  readonly #tenants = new Map<string, string>();

  constructor(key: Buffer) {
    this.#key = key;
    this.#platform = this.#mac('platform');
  }

  tenantProof(tenantId: string): string {
    let proof = this.#tenants.get(tenantId);
    if (!proof) {
      proof = this.#mac(`tenant:${tenantId}`);
      // Bounded: one entry per tenant id seen; the map is cleared rather than grown without end.
      if (this.#tenants.size >= 100_000) this.#tenants.clear();
      this.#tenants.set(tenantId, proof);
    }
    return proof;
  }

  platformProof(): string {
    return this.#platform;
  }

  #mac(message: string): string {
    return createHmac('sha256', this.#key).update(message, 'utf8').digest('hex');
  }
}

/** Reads the key through `owner` (outside any role switch), creating it on first start. */
export async function loadContextKey(owner: Driver): Promise<ContextKey> {
  const key = randomBytes(BLOCK);
  const pad = (byte: number) => Buffer.from(key.map((b) => b ^ byte));
  await owner.query('INSERT INTO atrium_context_key (key, inner_pad, outer_pad) VALUES ($1, $2, $3) ON CONFLICT (singleton) DO NOTHING', [key, pad(0x36), pad(0x5c)]);
  const res = await owner.query<{ key: Buffer | Uint8Array }>('SELECT key FROM atrium_context_key');
  const stored = res.rows[0]?.key;
  if (!stored || stored.length !== BLOCK) throw new Error('atrium_context_key holds no usable key');
  return new ContextKey(Buffer.from(stored));
}
