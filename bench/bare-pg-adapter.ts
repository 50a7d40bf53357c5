/**
 * oidc-provider's storage on PostgreSQL, as plainly as oidc-provider's own example adapters
 * keep it: one table, one row per model instance with its payload as JSONB, one statement per
 * adapter call, no transactions, no tenancy, no row-level security. The bare server uses it
 * for F5/bare-pg, the reference that says what a durable store costs oidc-provider itself on
 * a refresh grant, before anything Atrium adds.
 */
import pg from 'pg';
import type { Adapter, AdapterPayload } from 'oidc-provider';

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS bare_oidc (
    model text NOT NULL,
    id text NOT NULL,
    payload jsonb NOT NULL,
    grant_id text,
    user_code text,
    uid text,
    expires_at timestamptz,
    consumed_at timestamptz,
    PRIMARY KEY (model, id)
  );
  CREATE INDEX IF NOT EXISTS bare_oidc_grant ON bare_oidc (grant_id);
  CREATE INDEX IF NOT EXISTS bare_oidc_uid ON bare_oidc (uid);
  CREATE INDEX IF NOT EXISTS bare_oidc_user_code ON bare_oidc (user_code)`;

const LIVE = '(expires_at IS NULL OR expires_at > now())';

/** An adapter class over `url` (the table made if missing); `end` closes its pool. */
export async function barePgAdapter(url: string): Promise<{ Adapter: new (model: string) => Adapter; end: () => Promise<void> }> {
  // Atrium's default DATABASE_POOL_SIZE, so neither side has more connections to wait on.
  const pool = new pg.Pool({ connectionString: url, max: 10 });
  pool.on('error', () => {}); // an idle connection the server dropped is replaced, not fatal
  await pool.query(SCHEMA);

  const row = (r: { payload: AdapterPayload; consumed_at: Date | null } | undefined): AdapterPayload | undefined =>
    r && (r.consumed_at ? { ...r.payload, consumed: Math.floor(r.consumed_at.getTime() / 1000) } : r.payload);

  class PgAdapter implements Adapter {
    readonly #model: string;
    constructor(model: string) {
      this.#model = model;
    }

    async upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void> {
      await pool.query(
        `INSERT INTO bare_oidc (model, id, payload, grant_id, user_code, uid, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $7::int > 0 THEN now() + make_interval(secs => $7::int) END)
         ON CONFLICT (model, id) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
           user_code = excluded.user_code, uid = excluded.uid, expires_at = excluded.expires_at`,
        [this.#model, id, payload, payload.grantId ?? null, payload.userCode ?? null, payload.uid ?? null, expiresIn ?? 0],
      );
    }

    async find(id: string): Promise<AdapterPayload | undefined> {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM bare_oidc WHERE model = $1 AND id = $2 AND ${LIVE}`, [this.#model, id]);
      return row(rows[0]);
    }

    async findByUid(uid: string): Promise<AdapterPayload | undefined> {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM bare_oidc WHERE model = $1 AND uid = $2 AND ${LIVE}`, [this.#model, uid]);
      return row(rows[0]);
    }

    async findByUserCode(userCode: string): Promise<AdapterPayload | undefined> {
      const { rows } = await pool.query(`SELECT payload, consumed_at FROM bare_oidc WHERE model = $1 AND user_code = $2 AND ${LIVE}`, [this.#model, userCode]);
      return row(rows[0]);
    }

    async consume(id: string): Promise<void> {
      await pool.query('UPDATE bare_oidc SET consumed_at = now() WHERE model = $1 AND id = $2', [this.#model, id]);
    }

    async destroy(id: string): Promise<void> {
      await pool.query('DELETE FROM bare_oidc WHERE model = $1 AND id = $2', [this.#model, id]);
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      await pool.query('DELETE FROM bare_oidc WHERE grant_id = $1', [grantId]);
    }
  }
  return { Adapter: PgAdapter, end: () => pool.end() };
}
