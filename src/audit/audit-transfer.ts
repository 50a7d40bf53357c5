/** A tenant's audit log in a tenant bundle, when the export asks for it (runtime/tenant-transfer.ts). */
import type { Queryable } from '../storage/driver.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { rowsOf, type TableRows } from '../core/transfer-rows.ts';

export const auditTransfer = {
  tables: ['audit_events'],
  async export(q: Queryable, tenantId: string): Promise<TableRows> {
    return { audit_events: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.at, t.id), '[]'::jsonb) AS rows FROM audit_events t WHERE t.tenant_id = $1`, [tenantId]) };
  },
  async import(q: Queryable, tables: TableRows): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO audit_events SELECT * FROM jsonb_populate_recordset(NULL::audit_events, $1::jsonb)', rowsOf(tables, 'audit_events'));
  },
} as const;
