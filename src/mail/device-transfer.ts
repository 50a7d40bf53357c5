/** Users' known devices in a tenant bundle (runtime/tenant-transfer.ts), so a move does not announce every next sign-in as a new device. */
import type { Queryable } from '../storage/driver.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { rowsOf, type TableRows } from '../core/transfer-rows.ts';

export const deviceTransfer = {
  tables: ['known_devices'],
  async export(q: Queryable, tenantId: string): Promise<TableRows> {
    return { known_devices: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.user_id, t.device_hash), '[]'::jsonb) AS rows FROM known_devices t WHERE t.tenant_id = $1`, [tenantId]) };
  },
  async import(q: Queryable, tables: TableRows): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO known_devices SELECT * FROM jsonb_populate_recordset(NULL::known_devices, $1::jsonb)', rowsOf(tables, 'known_devices'));
  },
} as const;
