/**
 * Rows of a tenant bundle, as each owning domain exports and imports its own tables
 * (`*-transfer.ts` beside its store). A row is the table's row as PostgreSQL's `to_jsonb`
 * writes it (every column, in its own text form), so the import is the same row back.
 * Inside a bundle a sealed column carries its plaintext: the bundle as a whole is the seal
 * (core/transfer-seal.ts), and the target seals each value again under its own master key.
 */
import type { SecretBox } from './secret-box.ts';
import { TransferBundleError } from './transfer-seal.ts';

export type Row = Record<string, unknown>;
export type TableRows = Record<string, Row[]>;

/** Sealed under the source's master key → plaintext (for the bundle). */
export function openColumn(rows: Row[], column: string, box: SecretBox, context: (row: Row) => string): Row[] {
  return rows.map((row) => (typeof row[column] === 'string' ? { ...row, [column]: box.open(row[column], context(row)) } : row));
}

/** Plaintext from the bundle → sealed under the target's master key. */
export function sealColumn(rows: Row[], column: string, box: SecretBox, context: (row: Row) => string): Row[] {
  return rows.map((row) => (typeof row[column] === 'string' ? { ...row, [column]: box.seal(row[column], context(row)) } : row));
}

/** A bundle's rows of one table; a missing table is no rows, anything else is refused. */
export function rowsOf(tables: TableRows, table: string): Row[] {
  const rows = tables[table] ?? [];
  if (!Array.isArray(rows) || rows.some((r) => typeof r !== 'object' || r === null || Array.isArray(r))) throw new TransferBundleError('invalid_bundle', `the bundle's ${table} is not a list of rows`);
  return rows;
}

export const str = (row: Row, column: string): string => {
  const value = row[column];
  if (typeof value !== 'string') throw new TransferBundleError('invalid_bundle', `a row of the bundle lacks its ${column}`);
  return value;
};
