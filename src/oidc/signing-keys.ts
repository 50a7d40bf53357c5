/**
 * Per-tenant signing keys: RS256 and ES256, generated at tenant creation, private parts
 * sealed at rest. Rotation makes a fresh pair current and retires the previous pair,
 * which stays published (for verification only) until the tokens it signed have expired.
 */
import { generateKeyPair as generateKeyPairCb, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Database, Queryable } from '../storage/database.ts';
import { bumpTenantVersion } from '../tenancy/tenant-store.ts';
import type { SecretBox } from '../core/secret-box.ts';

const generateKeyPair = promisify(generateKeyPairCb) as (type: string, options: object) => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;

export type KeyStatus = 'next' | 'current' | 'retired';
export const SIGNING_ALGS = ['RS256', 'ES256'] as const;

export interface SigningKeyInfo {
  kid: string;
  alg: string;
  status: KeyStatus;
  publicJwk: JWK;
  createdAt: Date;
  activatedAt: Date | null;
  retiredAt: Date | null;
}

interface KeyRow {
  kid: string;
  alg: string;
  status: KeyStatus;
  public_jwk: JWK;
  private_jwk_enc: string;
  created_at: Date | string;
  activated_at: Date | string | null;
  retired_at: Date | string | null;
}

export interface GeneratedKey {
  kid: string;
  publicJwk: JWK;
  privateJwk: JWK;
}

async function generateJwk(alg: (typeof SIGNING_ALGS)[number]): Promise<GeneratedKey> {
  const { publicKey, privateKey } =
    alg === 'RS256'
      ? await generateKeyPair('rsa', { modulusLength: 2048 })
      : await generateKeyPair('ec', { namedCurve: 'P-256' });
  const pub = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(pub);
  const publicJwk = { ...pub, kid, alg, use: 'sig' };
  const privateJwk = { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg, use: 'sig' };
  return { kid, publicJwk, privateJwk };
}

export const signingKeyContext = (tenantId: string, kid: string) => `signing-key:${tenantId}:${kid}`;

export class SigningKeyStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** A fresh RS256 + ES256 pair, generated outside any transaction so transactions stay short. */
  generatePair(): Promise<GeneratedKey[]> {
    return Promise.all(SIGNING_ALGS.map(generateJwk));
  }

  /** Inserts a generated pair as the current keys, inside the caller's transaction. */
  async insertCurrentPair(q: Queryable, tenantId: string, fresh: GeneratedKey[]): Promise<void> {
    for (const k of fresh) {
      await q.query(
        `INSERT INTO signing_keys (tenant_id, kid, alg, status, public_jwk, private_jwk_enc, activated_at)
         VALUES ($1, $2, $3, 'current', $4, $5, now())`,
        [tenantId, k.kid, k.publicJwk.alg, k.publicJwk, this.#box.seal(JSON.stringify(k.privateJwk), signingKeyContext(tenantId, k.kid))],
      );
    }
  }

  /** Retires the current keys and makes a fresh pair current. */
  async rotate(tenantId: string): Promise<SigningKeyInfo[]> {
    const fresh = await this.generatePair();
    return this.#db.withTenant(async (q) => {
      await q.query(`UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE status = 'current'`);
      await this.insertCurrentPair(q, tenantId, fresh);
      await bumpTenantVersion(q);
      return (await this.#rows(q)).map(toInfo);
    });
  }

  /**
   * Scheduled rotation: like `rotate`, but only while the current keys are at least
   * `maxAgeSeconds` old (database clock). The age check and the retirement are one UPDATE,
   * so two runs racing rotate once: the second waits on the first's row locks, then finds
   * nothing current that old.
   */
  async rotateIfDue(tenantId: string, maxAgeSeconds: number): Promise<boolean> {
    const fresh = await this.generatePair();
    return this.#db.withTenant(async (q) => {
      const due = await q.query(
        `UPDATE signing_keys SET status = 'retired', retired_at = now()
         WHERE status = 'current' AND COALESCE(activated_at, created_at) <= now() - make_interval(secs => $1)`,
        [maxAgeSeconds],
      );
      if (due.rowCount === 0) return false;
      // Any current key activated later retires with the pair: exactly one pair is current.
      await q.query(`UPDATE signing_keys SET status = 'retired', retired_at = now() WHERE status = 'current'`);
      await this.insertCurrentPair(q, tenantId, fresh);
      await bumpTenantVersion(q);
      return true;
    });
  }

  /** Deletes retired keys retired at least `minAgeSeconds` ago; never a current or next key. Returns their kids. */
  async removeRetired(minAgeSeconds: number): Promise<string[]> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<{ kid: string }>(
        `DELETE FROM signing_keys WHERE status = 'retired' AND COALESCE(retired_at, created_at) <= now() - make_interval(secs => $1) RETURNING kid`,
        [minAgeSeconds],
      );
      if (res.rows.length) await bumpTenantVersion(q);
      return res.rows.map((r) => r.kid);
    });
  }

  async list(): Promise<SigningKeyInfo[]> {
    return this.#db.withTenant(async (q) => (await this.#rows(q)).map(toInfo));
  }

  /**
   * The private JWKS for the tenant's Provider: current keys first and usable for signing;
   * retired ones marked verify-only, so oidc-provider publishes them but never signs with them.
   */
  async loadProviderJwks(tenantId: string): Promise<{ keys: JWK[] }> {
    const rows = await this.#db.withTenant((q) => this.#rows(q));
    const keys = rows.map((row) => {
      const jwk = JSON.parse(this.#box.open(row.private_jwk_enc, signingKeyContext(tenantId, row.kid))) as JWK;
      return row.status === 'current' ? jwk : { ...jwk, key_ops: ['verify'] };
    });
    return { keys };
  }

  async #rows(q: Queryable): Promise<KeyRow[]> {
    const res = await q.query<KeyRow>(
      `SELECT kid, alg, status, public_jwk, private_jwk_enc, created_at, activated_at, retired_at FROM signing_keys
       ORDER BY CASE status WHEN 'current' THEN 0 WHEN 'next' THEN 1 ELSE 2 END, created_at DESC, alg`,
    );
    return res.rows;
  }
}

function toInfo(row: KeyRow): SigningKeyInfo {
  return {
    kid: row.kid,
    alg: row.alg,
    status: row.status,
    publicJwk: row.public_jwk,
    createdAt: new Date(row.created_at),
    activatedAt: row.activated_at ? new Date(row.activated_at) : null,
    retiredAt: row.retired_at ? new Date(row.retired_at) : null,
  };
}
