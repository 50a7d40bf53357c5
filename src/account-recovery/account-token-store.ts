/**
 * Single-use links sent by email (`account_tokens`, migration 006): signup verification,
 * password reset, invitation. The link carries 32 random bytes; the table holds only
 * their SHA-256, under the tenant's row-level security, so a link of one tenant finds
 * nothing on another and a database read yields no usable link. A token is consumed by
 * one conditional UPDATE: it works once, even across instances, and not after it expires.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import type { OutstandingLinks } from '../accounts/credential-change.ts';

export type TokenPurpose = 'signup' | 'password_reset' | 'invitation';

/** Short-lived by purpose: a reset link is a credential, an invitation waits for a busy person. */
export const TOKEN_TTL_SECONDS: Readonly<Record<TokenPurpose, number>> = {
  signup: 24 * 3600,
  password_reset: 30 * 60,
  invitation: 7 * 24 * 3600,
};

export interface AccountToken {
  purpose: TokenPurpose;
  userId: string | null;
  email: string;
  data: Record<string, unknown>;
  expiresAt: Date;
}

interface Row { purpose: TokenPurpose; user_id: string | null; email: string; data: Record<string, unknown>; expires_at: Date | string }

const TOKEN_FORMAT = /^[A-Za-z0-9_-]{43}$/;
const hashToken = (token: string) => createHash('sha256').update(token).digest('base64url');
const toToken = (row: Row): AccountToken => ({ purpose: row.purpose, userId: row.user_id, email: row.email, data: row.data ?? {}, expiresAt: new Date(row.expires_at) });

export class AccountTokenStore implements OutstandingLinks {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * A new token for the tenant in context. Earlier unused tokens of the same purpose and
   * account (user, else email) stop working: only the latest link is live. Long-expired
   * rows of the tenant are cleared on the way.
   */
  async issue(input: { purpose: TokenPurpose; userId?: string | null; email: string; data?: Record<string, unknown>; ttlSeconds?: number }): Promise<{ token: string; expiresAt: Date }> {
    const token = randomBytes(32).toString('base64url');
    const ttl = input.ttlSeconds ?? TOKEN_TTL_SECONDS[input.purpose];
    return this.#db.withTenant(async (q) => {
      await q.query(`DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day'`);
      await q.query(
        `DELETE FROM account_tokens WHERE purpose = $1 AND used_at IS NULL AND (($2::uuid IS NOT NULL AND user_id = $2::uuid) OR ($2::uuid IS NULL AND lower(email) = lower($3)))`,
        [input.purpose, input.userId ?? null, input.email],
      );
      const res = await q.query<{ expires_at: Date | string }>(
        `INSERT INTO account_tokens (tenant_id, token_hash, purpose, user_id, email, data, expires_at)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, now() + make_interval(secs => $6)) RETURNING expires_at`,
        [hashToken(token), input.purpose, input.userId ?? null, input.email, input.data ?? {}, ttl],
      );
      return { token, expiresAt: new Date(res.rows[0]!.expires_at) };
    });
  }

  /** The token if it is still usable, without using it (to show the form a link leads to). */
  async peek(purpose: TokenPurpose, token: unknown): Promise<AccountToken | undefined> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return undefined;
    return this.#db.withTenant(async (q) => {
      const res = await q.query<Row>('SELECT purpose, user_id, email, data, expires_at FROM account_tokens WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()', [hashToken(token), purpose]);
      return res.rows[0] ? toToken(res.rows[0]) : undefined;
    });
  }

  /** Uses the token: its content the first time, undefined ever after (or once expired). */
  async consume(purpose: TokenPurpose, token: unknown): Promise<AccountToken | undefined> {
    if (typeof token !== 'string' || !TOKEN_FORMAT.test(token)) return undefined;
    return this.#db.withTenant(async (q) => {
      const res = await q.query<Row>(
        `UPDATE account_tokens SET used_at = now() WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING purpose, user_id, email, data, expires_at`,
        [hashToken(token), purpose],
      );
      return res.rows[0] ? toToken(res.rows[0]) : undefined;
    });
  }

  /**
   * Ends the user's unused mail links in the caller's transaction: every change of the
   * user's credentials calls it (accounts/credential-change.ts). By user, and by the address
   * the user row has *now*: call it before an email change.
   */
  async endOutstandingLinks(q: Queryable, userId: string): Promise<number> {
    const res = await q.query(
      `DELETE FROM account_tokens WHERE used_at IS NULL
         AND (user_id = $1::uuid OR lower(email) = (SELECT lower(email) FROM users WHERE id = $1::uuid))`,
      [userId],
    );
    return res.rowCount;
  }
}

/** Emailed link tokens a day past their life, swept by runtime/expiry-sweeper.ts. */
export const ACCOUNT_TOKENS_EXPIRING = [{ table: 'account_tokens', expired: `expires_at < now() - interval '1 day'` }] as const;
