/**
 * A tenant's upstream connections (`federation_connections`), under the row-level security
 * of the tenant in context. The client secret is sealed with the SecretBox, bound to the
 * tenant and connection name, and only opened for the code that talks to the upstream.
 */
import { enforceQuota } from '../tenancy/quota-store.ts';
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { ITEM3_DEFAULTS, type ConnectionSettings } from './connection-schema.ts';

export interface StoredConnection {
  readonly name: string;
  readonly settings: ConnectionSettings;
  readonly hasSecret: boolean;
  readonly createdAt: Date;
  readonly updatedAt: Date;
}

interface ConnectionRow {
  name: string;
  settings: ConnectionSettings;
  enabled: boolean;
  client_secret_enc: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'name, settings, enabled, client_secret_enc, created_at, updated_at';
export const connectionSecretContext = (tenantId: string, name: string) => `federation:${tenantId}:${name}`;

const toStored = (row: ConnectionRow): StoredConnection => ({
  name: row.name,
  settings: { ...ITEM3_DEFAULTS, ...row.settings, enabled: row.enabled },
  hasSecret: row.client_secret_enc !== null,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

/** `keep`: leave the stored secret as it is; `null`: remove it; a string: seal and store it. */
export type SecretChange = { kind: 'keep' } | { kind: 'remove' } | { kind: 'set'; value: string };

export class ConnectionStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  async list(): Promise<StoredConnection[]> {
    return (await this.#db.tenantQuery<ConnectionRow>(`SELECT ${COLUMNS} FROM federation_connections ORDER BY name`)).rows.map(toStored);
  }

  async get(name: string): Promise<StoredConnection | undefined> {
    const row = (await this.#db.tenantQuery<ConnectionRow>(`SELECT ${COLUMNS} FROM federation_connections WHERE name = $1`, [name])).rows[0];
    return row ? toStored(row) : undefined;
  }

  /** Inserts or replaces a connection; answers whether it was created. */
  async put(tenantId: string, name: string, settings: ConnectionSettings, secret: SecretChange): Promise<{ connection: StoredConnection; created: boolean }> {
    const sealed = secret.kind === 'set' ? this.#box.seal(secret.value, connectionSecretContext(tenantId, name)) : null;
    return this.#db.withTenant(async (q) => {
      // Replacing a connection is not one more: only a new name counts against the quota.
      if (!(await q.query('SELECT 1 FROM federation_connections WHERE name = $1', [name])).rowCount) await enforceQuota(q, 'federation_connections');
      const res = await q.query<ConnectionRow & { created: boolean }>(
        `INSERT INTO federation_connections (tenant_id, name, provider, enabled, settings, client_secret_enc)
         VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, name) DO UPDATE SET
           provider = EXCLUDED.provider, enabled = EXCLUDED.enabled, settings = EXCLUDED.settings,
           client_secret_enc = CASE WHEN $6 = 'keep' THEN federation_connections.client_secret_enc ELSE EXCLUDED.client_secret_enc END,
           updated_at = now()
         RETURNING ${COLUMNS}, (xmax = 0) AS created`,
        [name, settings.provider, settings.enabled, settings, sealed, secret.kind],
      );
      const row = res.rows[0]!;
      return { connection: toStored(row), created: row.created };
    });
  }

  async delete(name: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('DELETE FROM federation_connections WHERE name = $1', [name]);
      return res.rowCount > 0;
    });
  }

  /** The decrypted client secret, for the upstream token endpoint only. */
  async secret(tenantId: string, name: string): Promise<string | undefined> {
    const row = await this.#db.withTenant(async (q) => (await q.query<{ client_secret_enc: string | null }>('SELECT client_secret_enc FROM federation_connections WHERE name = $1', [name])).rows[0]);
    return row?.client_secret_enc ? this.#box.open(row.client_secret_enc, connectionSecretContext(tenantId, name)) : undefined;
  }
}
