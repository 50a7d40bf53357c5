/** Upstream accounts (`iss` + `sub`) linked to users of the tenant in context (`federated_identities`). */
import type { Database } from '../storage/database.ts';

export interface FederatedIdentity {
  issuer: string;
  subject: string;
  connectionName: string;
  userId: string;
  email: string | null;
  createdAt: Date;
  lastLoginAt: Date;
}

interface IdentityRow {
  issuer: string;
  subject: string;
  connection_name: string;
  user_id: string;
  email: string | null;
  created_at: Date | string;
  last_login_at: Date | string;
}

const toIdentity = (row: IdentityRow): FederatedIdentity => ({
  issuer: row.issuer,
  subject: row.subject,
  connectionName: row.connection_name,
  userId: row.user_id,
  email: row.email,
  createdAt: new Date(row.created_at),
  lastLoginAt: new Date(row.last_login_at),
});

export class IdentityStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  /** The identity for an upstream account, its last sign-in recorded. */
  async touch(issuer: string, subject: string): Promise<FederatedIdentity | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<IdentityRow>('UPDATE federated_identities SET last_login_at = now() WHERE issuer = $1 AND subject = $2 RETURNING *', [issuer, subject]);
      return res.rows[0] ? toIdentity(res.rows[0]) : undefined;
    });
  }

  async link(identity: { issuer: string; subject: string; connectionName: string; userId: string; email: string | null }): Promise<void> {
    await this.#db.withTenant((q) =>
      q.query(
        `INSERT INTO federated_identities (tenant_id, issuer, subject, connection_name, user_id, email)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5)`,
        [identity.issuer, identity.subject, identity.connectionName, identity.userId, identity.email],
      ),
    );
  }

  /** The connections the user has upstream accounts at. */
  async connectionsOf(userId: string): Promise<string[]> {
    const res = await this.#db.withTenant((q) => q.query<{ connection_name: string }>('SELECT DISTINCT connection_name FROM federated_identities WHERE user_id = $1', [userId]));
    return res.rows.map((r) => r.connection_name);
  }
}
