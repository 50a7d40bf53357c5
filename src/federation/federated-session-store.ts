/**
 * What Atrium keeps of an upstream sign-in while the session it made lasts
 * (`federated_sessions`), and the logout tokens upstreams already sent
 * (`federation_logout_tokens`), in the tenant in context. The upstream ID token is sealed: it
 * is the `id_token_hint` of the sign-out, and must not be readable from a database dump.
 */
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';

export interface UpstreamSignIn {
  interactionUid: string;
  userId: string;
  connectionName: string;
  upstreamIssuer: string;
  upstreamSub: string;
  upstreamSid: string | null;
  idToken: string;
  /** The upstream token to introspect at each refresh (a connection with `introspection_endpoint`), else absent. */
  upstreamToken?: UpstreamToken;
}

/** What the upstream issued at the sign-in that introspection asks about: its refresh token if any, else its access token. */
export interface UpstreamToken {
  kind: 'refresh_token' | 'access_token';
  value: string;
}

export interface FederatedSession extends UpstreamSignIn {
  sessionUid: string | null;
}

interface Row {
  interaction_uid: string;
  session_uid: string | null;
  user_id: string;
  connection_name: string;
  upstream_issuer: string;
  upstream_sub: string;
  upstream_sid: string | null;
  id_token_enc: string;
  upstream_token_enc: string | null;
  upstream_token_kind: UpstreamToken['kind'] | null;
}

const sealContext = (tenantId: string, interactionUid: string) => `federated-session:${tenantId}:${interactionUid}`;
const tokenSealContext = (tenantId: string, interactionUid: string) => `federated-session-token:${tenantId}:${interactionUid}`;

export class FederatedSessionStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /** Records an upstream sign-in at its callback; it lives `ttlSeconds` (the tenant's session lifetime) unless bound and ended sooner. */
  async record(tenantId: string, signIn: UpstreamSignIn, ttlSeconds: number): Promise<void> {
    await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO federated_sessions (tenant_id, interaction_uid, user_id, connection_name, upstream_issuer, upstream_sub, upstream_sid, id_token_enc, expires_at, upstream_token_enc, upstream_token_kind)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8), $9, $10)
         ON CONFLICT (tenant_id, interaction_uid) DO UPDATE SET user_id = EXCLUDED.user_id, connection_name = EXCLUDED.connection_name, upstream_issuer = EXCLUDED.upstream_issuer,
           upstream_sub = EXCLUDED.upstream_sub, upstream_sid = EXCLUDED.upstream_sid, id_token_enc = EXCLUDED.id_token_enc, expires_at = EXCLUDED.expires_at,
           upstream_token_enc = EXCLUDED.upstream_token_enc, upstream_token_kind = EXCLUDED.upstream_token_kind`,
        [
          signIn.interactionUid, signIn.userId, signIn.connectionName, signIn.upstreamIssuer, signIn.upstreamSub, signIn.upstreamSid,
          this.#box.seal(signIn.idToken, sealContext(tenantId, signIn.interactionUid)), ttlSeconds,
          signIn.upstreamToken ? this.#box.seal(signIn.upstreamToken.value, tokenSealContext(tenantId, signIn.interactionUid)) : null, signIn.upstreamToken?.kind ?? null,
        ],
      ),
    );
  }

  /**
   * Binds the sign-in of interaction `interactionUid` to the session it completed; an earlier
   * upstream sign-in of that session is replaced (its upstream session is the older one).
   */
  async bind(interactionUid: string, sessionUid: string, userId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      // A consent prompt after the upstream sign-in finishes under another interaction: then
      // the user's newest unbound upstream sign-in is the one (see DESIGN.md, a known limit).
      const bound = await q.query(
        `UPDATE federated_sessions SET session_uid = $2 WHERE user_id = $3 AND session_uid IS NULL AND interaction_uid = COALESCE(
           (SELECT interaction_uid FROM federated_sessions WHERE interaction_uid = $1 AND user_id = $3 AND session_uid IS NULL),
           (SELECT interaction_uid FROM federated_sessions WHERE user_id = $3 AND session_uid IS NULL AND expires_at > now() ORDER BY created_at DESC LIMIT 1))
         RETURNING interaction_uid`,
        [interactionUid, sessionUid, userId],
      );
      if (bound.rowCount === 0) return false;
      await q.query('DELETE FROM federated_sessions WHERE session_uid = $1 AND interaction_uid <> $2', [sessionUid, (bound.rows[0] as { interaction_uid: string }).interaction_uid]);
      return true;
    });
  }

  /** Takes out (once) the upstream sign-in of session `sessionUid`: the sign-out uses it. */
  async take(tenantId: string, sessionUid: string): Promise<FederatedSession | undefined> {
    const row = await this.#db.withTenant(async (q) => (await q.query<Row>('DELETE FROM federated_sessions WHERE session_uid = $1 AND expires_at > now() RETURNING *', [sessionUid])).rows[0]);
    return row && this.#session(tenantId, row);
  }

  /**
   * The upstream sign-in of session `sessionUid`, left in place (a refresh re-checks it at
   * the upstream: introspection.ts); undefined when the session has none (any more).
   */
  async ofSession(tenantId: string, sessionUid: string): Promise<FederatedSession | undefined> {
    const row = await this.#db.withTenant(async (q) => (await q.query<Row>('SELECT * FROM federated_sessions WHERE session_uid = $1 AND expires_at > now()', [sessionUid])).rows[0]);
    return row && this.#session(tenantId, row);
  }

  /**
   * The live sessions of connection `connectionName` a logout token names (by upstream sid, or
   * by sub). Only which session of which user: ending them needs no upstream ID token, so none
   * is opened.
   */
  async named(connectionName: string, by: { sid?: string; sub?: string }): Promise<{ sessionUid: string; userId: string }[]> {
    const res = await this.#db.withTenant((q) =>
      q.query<{ session_uid: string; user_id: string }>(
        `SELECT session_uid, user_id FROM federated_sessions WHERE connection_name = $1 AND session_uid IS NOT NULL AND expires_at > now()
           AND ($2::text IS NULL OR upstream_sid = $2) AND ($3::text IS NULL OR upstream_sub = $3)`,
        [connectionName, by.sid ?? null, by.sub ?? null],
      ),
    );
    return res.rows.map((row) => ({ sessionUid: row.session_uid, userId: row.user_id }));
  }

  /** Forgets sessions that ended another way (a back-channel logout): their ID tokens are of no further use. */
  async forget(sessionUids: string[]): Promise<void> {
    if (sessionUids.length === 0) return;
    await this.#db.withTenant((q) => q.query('DELETE FROM federated_sessions WHERE session_uid = ANY($1::text[])', [sessionUids]));
  }

  /**
   * Notes a logout token's `jti` until `expiresAt`; false when the connection's upstream sent it
   * before (a replay). Expired rows are the sweeper's (FEDERATED_SESSIONS_EXPIRING): one not yet
   * swept still refuses its jti, which is right, as a token that old no longer verifies anyway.
   */
  async firstUse(connectionName: string, jti: string, expiresAt: Date): Promise<boolean> {
    const res = await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO federation_logout_tokens (tenant_id, connection_name, jti, expires_at) VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3) ON CONFLICT DO NOTHING`,
        [connectionName, jti, expiresAt],
      ),
    );
    return res.rowCount === 1;
  }

  #session(tenantId: string, row: Row): FederatedSession {
    return {
      interactionUid: row.interaction_uid,
      sessionUid: row.session_uid,
      userId: row.user_id,
      connectionName: row.connection_name,
      upstreamIssuer: row.upstream_issuer,
      upstreamSub: row.upstream_sub,
      upstreamSid: row.upstream_sid,
      idToken: this.#box.open(row.id_token_enc, sealContext(tenantId, row.interaction_uid)),
      ...(row.upstream_token_enc && row.upstream_token_kind
        ? { upstreamToken: { kind: row.upstream_token_kind, value: this.#box.open(row.upstream_token_enc, tokenSealContext(tenantId, row.interaction_uid)) } }
        : {}),
    };
  }
}

/** Rows past their life, swept by runtime/expiry-sweeper.ts. */
export const FEDERATED_SESSIONS_EXPIRING = [
  { table: 'federated_sessions', expired: 'expires_at < now()' },
  { table: 'federation_logout_tokens', expired: 'expires_at < now()' },
] as const;
