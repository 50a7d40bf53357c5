/**
 * The isolation self-audit's check that secrets are stored sealed: every column named
 * `*_enc` or `*_sealed` (the convention of every migration that stores a secret) is found in
 * the live schema, so a new one is checked without being listed, and a sample of its values
 * must each be a SecretBox envelope under a key this deployment holds. Values are classified,
 * never opened or printed: a finding names the table, column and row count only.
 */
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { IsolationCheck } from './isolation-report.ts';

const ident = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Rows sampled per column (at random): enough to catch a writer that forgot to seal. */
const SAMPLE = 200;

export async function checkSealedColumns(db: Database, box: SecretBox): Promise<IsolationCheck> {
  return db.crossTenant('isolation audit: sample sealed columns', async (q) => {
    const columns = (await q.query<{ table_name: string; column_name: string }>(`
      SELECT c.table_name, c.column_name FROM information_schema.columns c
      JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name AND t.table_type = 'BASE TABLE'
      WHERE c.table_schema = 'public' AND (c.column_name LIKE '%\\_enc' OR c.column_name LIKE '%\\_sealed')
      ORDER BY c.table_name, c.column_name`)).rows;
    const problems: string[] = [];
    let sampled = 0;
    for (const { table_name: table, column_name: column } of columns) {
      // Identifiers from the catalog, quoted: the check reads whatever the schema holds.
      const rows = (await q.query<{ v: string }>(`SELECT ${ident(column)}::text AS v FROM ${ident(table)} WHERE ${ident(column)} IS NOT NULL ORDER BY random() LIMIT ${SAMPLE}`)).rows;
      sampled += rows.length;
      const verdicts = rows.map((r) => box.classify(r.v));
      const plain = verdicts.filter((v) => v === 'not-sealed').length;
      const foreign = verdicts.filter((v) => v === 'unknown-key').length;
      if (plain) problems.push(`${table}.${column}: ${plain} of ${rows.length} sampled values are not sealed (plaintext)`);
      if (foreign) problems.push(`${table}.${column}: ${foreign} of ${rows.length} sampled values are sealed under a key this deployment does not hold`);
    }
    if (columns.length === 0) problems.push('no sealed column found (*_enc, *_sealed): the schema is not the one expected');
    return problems.length
      ? { name: 'sealed-columns', status: 'fail', detail: `${problems.length} column(s) hold values that are not sealed`, problems }
      : { name: 'sealed-columns', status: 'pass', detail: `${columns.length} sealed columns, ${sampled} sampled values, all sealed under a current or retired master key` };
  });
}
