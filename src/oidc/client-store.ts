/**
 * OIDC clients of the tenant in context. Metadata is stored as given (RFC 7591 names);
 * the secret is sealed separately and only ever shown at creation or rotation. Every write
 * bumps the tenant version in the same transaction (its Provider is built from clients).
 */
import { enforceQuota } from '../tenancy/quota-store.ts';
import { randomBytes } from 'node:crypto';
import { keysetPage, pageOf, POSITION_US, type Direction, type PageEnds, type Position } from '../storage/keyset.ts';
import type { Database } from '../storage/database.ts';
import { bumpTenantVersion } from '../tenancy/tenant-store.ts';
import type { SecretBox } from '../core/secret-box.ts';

export type ClientMetadata = Record<string, unknown> & { client_id: string };

interface ClientRow {
  client_id: string;
  metadata: Record<string, unknown>;
  secret_enc: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const clientPage = (direction: Direction) => {
  const { where, orderBy } = keysetPage('client_id', 'text', 3, 4, direction);
  return `SELECT client_id, metadata, secret_enc, created_at, updated_at, ${POSITION_US} FROM oidc_clients WHERE ${where} ${orderBy} LIMIT $1 OFFSET $2`;
};

/**
 * The clients list's statements, exported so a test can EXPLAIN them. Parameters of a page:
 * rows to read, offset, the position's microseconds and client id (or nulls).
 */
export const CLIENT_LIST_QUERIES = {
  after: clientPage('after'),
  before: clientPage('before'),
  count: 'SELECT count(*) AS n FROM oidc_clients',
} as const;

export const clientSecretContext = (tenantId: string, clientId: string) => `client-secret:${tenantId}:${clientId}`;

export function generateClientId(): string {
  return randomBytes(16).toString('base64url');
}

export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface StoredClient {
  metadata: ClientMetadata;
  hasSecret: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export class ClientStore {
  readonly #db: Database;
  readonly #box: SecretBox;
  constructor(db: Database, box: SecretBox) {
    this.#db = db;
    this.#box = box;
  }

  /**
   * One page of the tenant's clients in creation order: keyset paging from a position a
   * previous page gave (`from`, storage/keyset.ts), or the older `offset`.
   */
  async list(options: { limit: number; offset?: number; from?: { direction: Direction; position: Position } }): Promise<{ clients: StoredClient[]; total: number } & PageEnds> {
    const direction = options.from?.direction ?? 'after';
    return this.#db.withTenant(async (q) => {
      const rows = await q.query<ClientRow & { position_us: string }>(CLIENT_LIST_QUERIES[direction], [options.limit + 1, options.offset ?? 0, options.from?.position.us ?? null, options.from?.position.key ?? null]);
      const count = await q.query<{ n: string }>(CLIENT_LIST_QUERIES.count);
      const { rows: page, ends } = pageOf(rows.rows, options.limit, (r) => r.client_id, { direction, position: options.from?.position, offset: options.offset });
      return { clients: page.map(toStored), total: Number(count.rows[0]?.n ?? 0), ...ends };
    });
  }

  async get(clientId: string): Promise<StoredClient | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<ClientRow>('SELECT client_id, metadata, secret_enc, created_at, updated_at FROM oidc_clients WHERE client_id = $1', [clientId]);
      return res.rows[0] ? toStored(res.rows[0]) : undefined;
    });
  }

  /** The metadata oidc-provider needs, secret included, for the tenant's own Provider only. */
  async findForProvider(tenantId: string, clientId: string): Promise<ClientMetadata | undefined> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query<ClientRow>('SELECT client_id, metadata, secret_enc, created_at, updated_at FROM oidc_clients WHERE client_id = $1', [clientId]);
      const row = res.rows[0];
      if (!row) return undefined;
      const metadata: ClientMetadata = { ...row.metadata, client_id: row.client_id };
      if (row.secret_enc) metadata.client_secret = this.#box.open(row.secret_enc, clientSecretContext(tenantId, row.client_id));
      return metadata;
    });
  }

  async insert(tenantId: string, metadata: ClientMetadata, secret: string | undefined): Promise<StoredClient> {
    const { client_secret: _drop, ...rest } = metadata;
    return this.#db.withTenant(async (q) => {
      await enforceQuota(q, 'clients');
      const res = await q.query<ClientRow>(
        `INSERT INTO oidc_clients (tenant_id, client_id, metadata, secret_enc) VALUES ($1, $2, $3, $4)
         RETURNING client_id, metadata, secret_enc, created_at, updated_at`,
        [tenantId, metadata.client_id, rest, secret ? this.#box.seal(secret, clientSecretContext(tenantId, metadata.client_id)) : null],
      );
      await bumpTenantVersion(q);
      return toStored(res.rows[0]!);
    });
  }

  /** Replaces the metadata; `secret` undefined keeps the current secret, null removes it. */
  async update(tenantId: string, metadata: ClientMetadata, secret: string | null | undefined): Promise<StoredClient | undefined> {
    const { client_secret: _drop, ...rest } = metadata;
    return this.#db.withTenant(async (q) => {
      const sealed = secret ? this.#box.seal(secret, clientSecretContext(tenantId, metadata.client_id)) : null;
      const res = await q.query<ClientRow>(
        `UPDATE oidc_clients SET metadata = $2, secret_enc = CASE WHEN $3::boolean THEN $4 ELSE secret_enc END, updated_at = now()
         WHERE client_id = $1 RETURNING client_id, metadata, secret_enc, created_at, updated_at`,
        [metadata.client_id, rest, secret !== undefined, sealed],
      );
      if (!res.rows[0]) return undefined;
      await bumpTenantVersion(q);
      return toStored(res.rows[0]);
    });
  }

  /** Deletes the client and every grant and token issued to it. */
  async delete(clientId: string): Promise<boolean> {
    return this.#db.withTenant(async (q) => {
      const res = await q.query('DELETE FROM oidc_clients WHERE client_id = $1', [clientId]);
      if (res.rowCount) {
        await q.query(`DELETE FROM oidc_payloads WHERE payload->>'clientId' = $1`, [clientId]);
        await bumpTenantVersion(q);
      }
      return res.rowCount > 0;
    });
  }
}

function toStored(row: ClientRow): StoredClient {
  return {
    metadata: { ...row.metadata, client_id: row.client_id },
    hasSecret: Boolean(row.secret_enc),
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  };
}
