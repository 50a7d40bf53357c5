/** Upstream connections (client secrets opened and sealed again) and linked identities in a tenant bundle (runtime/tenant-transfer.ts). */
import type { Queryable } from '../storage/driver.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { openColumn, rowsOf, sealColumn, str, type Row, type TableRows } from '../core/transfer-rows.ts';
import { connectionSecretContext } from './connection-store.ts';

const context = (row: Row) => connectionSecretContext(str(row, 'tenant_id'), str(row, 'name'));

export const federationTransfer = {
  tables: ['federation_connections', 'federated_identities'],
  async export(q: Queryable, tenantId: string, box: SecretBox): Promise<TableRows> {
    const connections = await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.name), '[]'::jsonb) AS rows FROM federation_connections t WHERE t.tenant_id = $1`, [tenantId]);
    return {
      federation_connections: openColumn(connections, 'client_secret_enc', box, context),
      federated_identities: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.issuer, t.subject), '[]'::jsonb) AS rows FROM federated_identities t WHERE t.tenant_id = $1`, [tenantId]),
    };
  },
  async import(q: Queryable, tables: TableRows, box: SecretBox): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO federation_connections SELECT * FROM jsonb_populate_recordset(NULL::federation_connections, $1::jsonb)', sealColumn(rowsOf(tables, 'federation_connections'), 'client_secret_enc', box, context));
    await insertJsonRows(q, 'INSERT INTO federated_identities SELECT * FROM jsonb_populate_recordset(NULL::federated_identities, $1::jsonb)', rowsOf(tables, 'federated_identities'));
  },
} as const;
