/**
 * Whole rows in and out as JSON, for tenant bundles: `to_jsonb` writes every column in
 * PostgreSQL's own text form (timestamps to the microsecond, arrays, bigints) and
 * `jsonb_populate_recordset` reads the same form back, identically on PostgreSQL and PGlite,
 * with no per-column code that a new column could slip past. The SQL stays with the table's
 * owner (each domain's `*-transfer.ts`); this only runs it.
 */
import type { Queryable } from './driver.ts';

type Row = Record<string, unknown>;

/** `sql` selects one column, `rows`, a jsonb array (`coalesce(jsonb_agg(to_jsonb(t)), '[]')`). */
export async function selectJsonRows(q: Queryable, sql: string, params: readonly unknown[]): Promise<Row[]> {
  const res = await q.query<{ rows: Row[] | string }>(sql, params);
  const rows = res.rows[0]?.rows ?? [];
  return typeof rows === 'string' ? (JSON.parse(rows) as Row[]) : rows;
}

/** `sql` takes the rows as `$1::jsonb` and inserts them with `jsonb_populate_recordset(NULL::<table>, $1::jsonb)`. */
export async function insertJsonRows(q: Queryable, sql: string, rows: readonly Row[]): Promise<void> {
  if (rows.length === 0) return;
  await q.query(sql, [JSON.stringify(rows)]);
}
