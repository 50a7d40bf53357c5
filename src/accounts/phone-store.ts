/**
 * A user's phone number and its verification (columns of `users`, migration 014), in the
 * tenant in context. The number only counts once verified: a code is sent to the number
 * being verified (`phone_pending`), and the number becomes the user's when the code comes
 * back in time, within a few attempts. The code itself is never stored, only its SHA-256
 * bound to the user and the number. A federated user's upstream may also vouch for a number
 * (takeFromUpstream).
 */
import { createHash } from 'node:crypto';
import type { Database } from '../storage/database.ts';

export interface UserPhone {
  /** The verified number (E.164), or null. */
  phone: string | null;
  verifiedAt: Date | null;
  /** The number waiting for its code, if any. */
  pending: string | null;
}

export type CodeCheck = 'verified' | 'wrong' | 'expired' | 'none' | 'exhausted';

/** How many wrong codes end a verification: 6 digits, so 5 guesses are a 1 in 200 000 chance. */
export const PHONE_CODE_ATTEMPTS = 5;

export const phoneCodeHash = (userId: string, phone: string, code: string) => createHash('sha256').update(`${userId}\u0000${phone}\u0000${code}`).digest('base64url');

export class PhoneStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async phoneOf(userId: string): Promise<UserPhone | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<{ phone: string | null; phone_verified_at: Date | string | null; phone_pending: string | null }>('SELECT phone, phone_verified_at, phone_pending FROM users WHERE id = $1', [userId]);
      const row = res.rows[0];
      return row ? { phone: row.phone, verifiedAt: row.phone_verified_at ? new Date(row.phone_verified_at) : null, pending: row.phone_pending } : undefined;
    });
  }

  /** The verified number of the active user with this email, for security alerts. */
  async verifiedPhoneOf(email: string): Promise<string | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<{ phone: string }>("SELECT phone FROM users WHERE lower(email) = lower($1) AND status = 'active' AND phone IS NOT NULL AND phone_verified_at IS NOT NULL", [email]);
      return res.rows[0]?.phone;
    });
  }

  /**
   * Starts verifying `phone` with the hash of the code about to be sent; replaces any
   * verification under way, but not one started less than `spacingSeconds` ago (false then):
   * each code is a paid message, and a loop of requests must not become a flood of them.
   */
  async startVerification(userId: string, phone: string, codeHash: string, ttlSeconds: number, spacingSeconds: number): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query(
        `UPDATE users SET phone_pending = $2, phone_code_hash = $3, phone_code_expires_at = now() + make_interval(secs => $4::int), phone_code_attempts = 0
         WHERE id = $1 AND (phone_code_expires_at IS NULL OR phone_code_expires_at <= now() + make_interval(secs => $4::int - $5::int))`,
        [userId, phone, codeHash, ttlSeconds, spacingSeconds],
      );
      return (res.rowCount ?? 0) > 0;
    });
  }

  /**
   * Checks a code in one statement (so two guesses at once both count): right and in time, the
   * pending number becomes the user's verified number; wrong, an attempt is spent; the last
   * attempt or an expired code ends the verification.
   */
  async confirm(userId: string, code: string): Promise<CodeCheck> {
    return this.#db.withTenant(async (q) => {
      const row = (await q.query<{ phone_pending: string | null; live: boolean; attempts: number }>(
        'SELECT phone_pending, phone_code_expires_at > now() AS live, phone_code_attempts AS attempts FROM users WHERE id = $1 FOR UPDATE',
        [userId],
      )).rows[0];
      if (!row?.phone_pending) return 'none';
      const clear = 'phone_pending = NULL, phone_code_hash = NULL, phone_code_expires_at = NULL, phone_code_attempts = 0';
      if (!row.live) {
        await q.query(`UPDATE users SET ${clear} WHERE id = $1`, [userId]);
        return 'expired';
      }
      const hit = await q.query(`UPDATE users SET phone = phone_pending, phone_verified_at = now(), ${clear} WHERE id = $1 AND phone_code_hash = $2`, [userId, phoneCodeHash(userId, row.phone_pending, code)]);
      if ((hit.rowCount ?? 0) > 0) return 'verified';
      if (row.attempts + 1 >= PHONE_CODE_ATTEMPTS) {
        await q.query(`UPDATE users SET ${clear} WHERE id = $1`, [userId]);
        return 'exhausted';
      }
      await q.query('UPDATE users SET phone_code_attempts = phone_code_attempts + 1 WHERE id = $1', [userId]);
      return 'wrong';
    });
  }

  /**
   * Takes a number the user's upstream sent and said is verified (federation claims_mapping
   * phone_number with phone_number_verified true) as the user's verified number: the upstream
   * signs the user in, so its word on their number is as good as a code sent to it. This is
   * the one record of a user's phone, so the number also gets security alerts. A verification
   * under way is left alone. Answers whether the number changed.
   */
  async takeFromUpstream(userId: string, phone: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('UPDATE users SET phone = $2, phone_verified_at = now() WHERE id = $1 AND (phone IS DISTINCT FROM $2 OR phone_verified_at IS NULL)', [userId, phone]);
      return (res.rowCount ?? 0) > 0;
    });
  }

  /** Forgets the user's number and any verification under way. */
  async remove(userId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('UPDATE users SET phone = NULL, phone_verified_at = NULL, phone_pending = NULL, phone_code_hash = NULL, phone_code_expires_at = NULL, phone_code_attempts = 0 WHERE id = $1 AND (phone IS NOT NULL OR phone_pending IS NOT NULL)', [userId]);
      return (res.rowCount ?? 0) > 0;
    });
  }
}
