/** Used platform hand-off nonces of the current tenant (row-level security), kept apart from sessions. */
import type { Database } from '../storage/database.ts';

export class HandoffNonceStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** Marks a hand-off nonce used until `expiresAt`, atomically: true only for the first caller. */
  async claim(nonce: string, expiresAt: Date): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO console_handoff_nonces (tenant_id, nonce, expires_at) VALUES (current_setting('app.tenant_id')::uuid, $1, $2) ON CONFLICT DO NOTHING`,
        [nonce.slice(0, 64), expiresAt],
      ),
    );
    return res.rowCount === 1;
  }
}
