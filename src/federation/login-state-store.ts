/**
 * Sign-ins sent to an upstream and not back yet (`federation_login_states`), in the tenant
 * in context. A row is taken (deleted) by the callback that consumes it, so a replayed
 * callback finds nothing. The PKCE verifier is sealed; the browser is represented by the
 * SHA-256 of the secret in its cookie.
 */
import { createHash } from 'node:crypto';
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';

export interface PendingSignIn {
  stateId: string;
  connectionName: string;
  interactionUid: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
  browserHash: string;
  expiresAt: Date;
}

interface StateRow {
  state_id: string;
  connection_name: string;
  interaction_uid: string;
  nonce: string;
  code_verifier_enc: string;
  redirect_uri: string;
  browser_hash: string;
  expires_at: Date | string;
}

export const browserHash = (secret: string) => createHash('sha256').update(secret).digest('base64url');
const sealContext = (tenantId: string, stateId: string) => `federation-state:${tenantId}:${stateId}`;

export class LoginStateStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** Records a pending sign-in, and clears the tenant's expired ones on the way. */
  async save(tenantId: string, pending: PendingSignIn): Promise<void> {
    await this.#db.withTenant(async (q) => {
      await q.query('DELETE FROM federation_login_states WHERE expires_at < now()');
      await q.query(
        `INSERT INTO federation_login_states (tenant_id, state_id, connection_name, interaction_uid, nonce, code_verifier_enc, redirect_uri, browser_hash, expires_at)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, $8)`,
        [pending.stateId, pending.connectionName, pending.interactionUid, pending.nonce, this.#box.seal(pending.codeVerifier, sealContext(tenantId, pending.stateId)), pending.redirectUri, pending.browserHash, pending.expiresAt],
      );
    });
  }

  /** Takes a pending sign-in out (once): a second call with the same id answers undefined. */
  async take(tenantId: string, stateId: string): Promise<PendingSignIn | undefined> {
    const row = await this.#db.withTenant(async (q) => (await q.query<StateRow>('DELETE FROM federation_login_states WHERE state_id = $1 RETURNING *', [stateId])).rows[0]);
    if (!row) return undefined;
    return {
      stateId: row.state_id,
      connectionName: row.connection_name,
      interactionUid: row.interaction_uid,
      nonce: row.nonce,
      codeVerifier: this.#box.open(row.code_verifier_enc, sealContext(tenantId, row.state_id)),
      redirectUri: row.redirect_uri,
      browserHash: row.browser_hash,
      expiresAt: new Date(row.expires_at),
    };
  }
}

/** Pending upstream sign-ins past their life, swept by runtime/expiry-sweeper.ts. */
export const FEDERATION_EXPIRING = [{ table: 'federation_login_states', expired: 'expires_at < now()' }] as const;
