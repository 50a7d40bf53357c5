/** Rows of the second-factor tables, always inside the current tenant (row-level security). */
import type { OutstandingLinks } from '../accounts/credential-change.ts';
import type { Database } from '../storage/database.ts';

export interface TotpRecord {
  secretSealed: string;
  confirmedAt: Date | null;
  lastStep: number;
}

export interface WebAuthnCredential {
  credentialId: string;
  userId: string;
  /** COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
  name: string;
  deviceType: string | null;
  backedUp: boolean;
  createdAt: Date;
  lastUsedAt: Date | null;
}

interface CredentialRow {
  credential_id: string;
  user_id: string;
  public_key: string;
  counter: string | number;
  transports: string[];
  name: string;
  device_type: string | null;
  backed_up: boolean;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

const CREDENTIAL_COLUMNS = 'credential_id, user_id, public_key, counter, transports, name, device_type, backed_up, created_at, last_used_at';
const CREDENTIALS = `SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE user_id = $1 ORDER BY created_at`;
const TOTP = 'SELECT secret_sealed, confirmed_at, last_step FROM mfa_totp WHERE user_id = $1';
const UNUSED_RECOVERY_CODES = 'SELECT count(*) AS n FROM mfa_recovery_codes WHERE user_id = $1 AND used_at IS NULL';

interface TotpRow {
  secret_sealed: string;
  confirmed_at: Date | string | null;
  last_step: string | number;
}

function toTotp(row: TotpRow | undefined): TotpRecord | undefined {
  return row ? { secretSealed: row.secret_sealed, confirmedAt: row.confirmed_at ? new Date(row.confirmed_at) : null, lastStep: Number(row.last_step) } : undefined;
}

function toCredential(row: CredentialRow): WebAuthnCredential {
  return {
    credentialId: row.credential_id,
    userId: row.user_id,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports ?? [],
    name: row.name,
    deviceType: row.device_type,
    backedUp: row.backed_up,
    createdAt: new Date(row.created_at),
    lastUsedAt: row.last_used_at ? new Date(row.last_used_at) : null,
  };
}

export class MfaStore {
  readonly #db: Database;
  readonly #links: OutstandingLinks;
  /** `links`: a change of second factors ends the user's outstanding mail links in its own transaction. */
  constructor(db: Database, links: OutstandingLinks) {
    this.#db = db;
    this.#links = links;
  }

  async findTotp(userId: string): Promise<TotpRecord | undefined> {
    return toTotp((await this.#db.tenantQuery<TotpRow>(TOTP, [userId])).rows[0]);
  }

  /** The user's authenticator app, unused recovery codes and passkeys in one batch (one round trip): a sign-in's second-factor check. */
  async factorsOf(userId: string): Promise<{ totp: TotpRecord | undefined; recoveryCodesLeft: number; passkeys: WebAuthnCredential[] }> {
    const [totp, codes, passkeys] = await this.#db.withTenantBatch([[TOTP, [userId]], [UNUSED_RECOVERY_CODES, [userId]], [CREDENTIALS, [userId]]]);
    return { totp: toTotp(totp!.rows[0] as TotpRow | undefined), recoveryCodesLeft: Number(codes!.rows[0]?.n ?? 0), passkeys: (passkeys!.rows as unknown as CredentialRow[]).map(toCredential) };
  }


  /** Starts (or restarts) an enrolment; a confirmed authenticator is never replaced this way. */
  async savePendingTotp(userId: string, secretSealed: string): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO mfa_totp (tenant_id, user_id, secret_sealed) VALUES (current_setting('app.tenant_id')::uuid, $1, $2)
         ON CONFLICT (tenant_id, user_id) DO UPDATE SET secret_sealed = EXCLUDED.secret_sealed, created_at = now(), last_step = 0
         WHERE mfa_totp.confirmed_at IS NULL`,
        [userId, secretSealed],
      ),
    );
    return res.rowCount === 1;
  }

  async confirmTotp(userId: string, step: number): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('UPDATE mfa_totp SET confirmed_at = now(), last_step = $2 WHERE user_id = $1 AND confirmed_at IS NULL', [userId, step]);
      if (res.rowCount === 1) await this.#links.endOutstandingLinks(q, userId);
      return res.rowCount === 1;
    });
  }

  /** Records a step as used, atomically: false when that step (or a later one) was already used. */
  async useTotpStep(userId: string, step: number): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query('UPDATE mfa_totp SET last_step = $2 WHERE user_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2', [userId, step]),
    );
    return res.rowCount === 1;
  }

  async deleteTotp(userId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('DELETE FROM mfa_totp WHERE user_id = $1', [userId]);
      if (res.rowCount > 0) await this.#links.endOutstandingLinks(q, userId);
      return res.rowCount > 0;
    });
  }

  async replaceRecoveryCodes(userId: string, hashes: string[]): Promise<void> {
    await this.#db.withTenant(async (q) => {
      await q.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
      await this.#links.endOutstandingLinks(q, userId);
      for (const hash of hashes) {
        await q.query(`INSERT INTO mfa_recovery_codes (tenant_id, user_id, code_hash) VALUES (current_setting('app.tenant_id')::uuid, $1, $2)`, [userId, hash]);
      }
    });
  }

  /** Marks a code used, atomically: true only for the first use of an existing code. */
  async useRecoveryCode(userId: string, hash: string): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query('UPDATE mfa_recovery_codes SET used_at = now() WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL', [userId, hash]),
    );
    return res.rowCount === 1;
  }

  async countUnusedRecoveryCodes(userId: string): Promise<number> {
    const res = await this.#db.tenantQuery<{ n: string | number }>(UNUSED_RECOVERY_CODES, [userId]);
    return Number(res.rows[0]?.n ?? 0);
  }

  /**
   * Every second factor of the user (an admin's MFA reset) and their outstanding mail links,
   * in one transaction; how many passkeys went and whether there was an authenticator app.
   */
  async deleteAllFactors(userId: string): Promise<{ passkeys: number; totp: boolean }> {
    return this.#db.withTenant(async (q) => {
      const passkeys = (await q.query('DELETE FROM webauthn_credentials WHERE user_id = $1', [userId])).rowCount;
      const totp = (await q.query('DELETE FROM mfa_totp WHERE user_id = $1', [userId])).rowCount > 0;
      await q.query('DELETE FROM mfa_recovery_codes WHERE user_id = $1', [userId]);
      await this.#links.endOutstandingLinks(q, userId);
      return { passkeys, totp };
    });
  }

  async listCredentials(userId: string): Promise<WebAuthnCredential[]> {
    const res = await this.#db.tenantQuery<CredentialRow>(CREDENTIALS, [userId]);
    return res.rows.map(toCredential);
  }

  async findCredential(credentialId: string): Promise<WebAuthnCredential | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<CredentialRow>(`SELECT ${CREDENTIAL_COLUMNS} FROM webauthn_credentials WHERE credential_id = $1`, [credentialId]);
      return res.rows[0] ? toCredential(res.rows[0]) : undefined;
    });
  }

  async addCredential(credential: Omit<WebAuthnCredential, 'createdAt' | 'lastUsedAt'>): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query(
        `INSERT INTO webauthn_credentials (tenant_id, credential_id, user_id, public_key, counter, transports, name, device_type, backed_up)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [credential.credentialId, credential.userId, credential.publicKey, credential.counter, credential.transports, credential.name, credential.deviceType, credential.backedUp],
      );
      if (res.rowCount === 1) await this.#links.endOutstandingLinks(q, credential.userId);
      return res.rowCount === 1;
    });
  }

  async recordCredentialUse(credentialId: string, counter: number): Promise<void> {
    await this.#db.withTenant((q) => q.query('UPDATE webauthn_credentials SET counter = $2, last_used_at = now() WHERE credential_id = $1', [credentialId, counter]));
  }

  async deleteCredential(userId: string, credentialId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('DELETE FROM webauthn_credentials WHERE user_id = $1 AND credential_id = $2', [userId, credentialId]);
      if (res.rowCount > 0) await this.#links.endOutstandingLinks(q, userId);
      return res.rowCount > 0;
    });
  }
}
