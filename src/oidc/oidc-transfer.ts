/**
 * Clients and signing keys in a tenant bundle (runtime/tenant-transfer.ts). Client secrets
 * and private keys are opened from the source's seal and sealed again under the target's;
 * every key row travels with its kid and status, so tokens signed before the move verify
 * against the target's JWKS.
 */
import type { Queryable } from '../storage/driver.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { openColumn, rowsOf, sealColumn, str, type Row, type TableRows } from '../core/transfer-rows.ts';
import { clientSecretContext } from './client-store.ts';
import { signingKeyContext } from './signing-keys.ts';

const clientContext = (row: Row) => clientSecretContext(str(row, 'tenant_id'), str(row, 'client_id'));
const keyContext = (row: Row) => signingKeyContext(str(row, 'tenant_id'), str(row, 'kid'));

export const oidcTransfer = {
  tables: ['oidc_clients', 'signing_keys'],
  async export(q: Queryable, tenantId: string, box: SecretBox): Promise<TableRows> {
    const clients = await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.client_id), '[]'::jsonb) AS rows FROM oidc_clients t WHERE t.tenant_id = $1`, [tenantId]);
    const keys = await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.created_at, t.kid), '[]'::jsonb) AS rows FROM signing_keys t WHERE t.tenant_id = $1`, [tenantId]);
    return { oidc_clients: openColumn(clients, 'secret_enc', box, clientContext), signing_keys: openColumn(keys, 'private_jwk_enc', box, keyContext) };
  },
  async import(q: Queryable, tables: TableRows, box: SecretBox): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO oidc_clients SELECT * FROM jsonb_populate_recordset(NULL::oidc_clients, $1::jsonb)', sealColumn(rowsOf(tables, 'oidc_clients'), 'secret_enc', box, clientContext));
    await insertJsonRows(q, 'INSERT INTO signing_keys SELECT * FROM jsonb_populate_recordset(NULL::signing_keys, $1::jsonb)', sealColumn(rowsOf(tables, 'signing_keys'), 'private_jwk_enc', box, keyContext));
  },
} as const;
