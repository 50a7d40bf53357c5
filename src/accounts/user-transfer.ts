/** The users of a tenant in a tenant bundle (runtime/tenant-transfer.ts): argon2 hashes and roles travel as they are. */
import type { Queryable } from '../storage/driver.ts';
import { selectJsonRows, insertJsonRows } from '../storage/json-rows.ts';
import { rowsOf, type TableRows } from '../core/transfer-rows.ts';

export const userTransfer = {
  tables: ['users'],
  async export(q: Queryable, tenantId: string): Promise<TableRows> {
    return { users: await selectJsonRows(q, `SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.id), '[]'::jsonb) AS rows FROM users t WHERE t.tenant_id = $1`, [tenantId]) };
  },
  async import(q: Queryable, tables: TableRows): Promise<void> {
    await insertJsonRows(q, 'INSERT INTO users SELECT * FROM jsonb_populate_recordset(NULL::users, $1::jsonb)', rowsOf(tables, 'users'));
  },
} as const;
