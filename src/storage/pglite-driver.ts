/**
 * Embedded PostgreSQL (PGlite, WebAssembly) for a newcomer's machine and for tests.
 * PGlite is a single connection, so transactions are serialized by PGlite itself.
 */
import { PGlite } from '@electric-sql/pglite';
import { mkdirSync } from 'node:fs';
import type { Driver, Queryable, QueryResult } from './driver.ts';

/** `dataDir` undefined keeps everything in memory (tests). */
export async function createPgliteDriver(dataDir: string | undefined): Promise<Driver> {
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir ? { dataDir } : {});

  const wrap = (q: Pick<PGlite, 'query' | 'exec'>): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await q.query<R>(sql, params as unknown[] | undefined);
      // PGlite reports affectedRows 0 for SELECT; count the rows there.
      return { rows: res.rows, rowCount: res.affectedRows || res.rows.length };
    },
    async exec(sql: string): Promise<void> {
      await q.exec(sql);
    },
  });

  return {
    kind: 'pglite',
    transaction(setup, fn, params) {
      return db.transaction(async (tx) => {
        if (params) await tx.query(setup, params as unknown[]);
        else await tx.exec(setup);
        return fn(wrap(tx));
      });
    },
    batch(setup, params, statements) {
      // One process, no network: the statements simply run one after the other.
      return db.transaction(async (tx) => {
        await tx.query(setup, params as unknown[]);
        const q = wrap(tx);
        const results: QueryResult<Record<string, unknown>>[] = [];
        for (const [sql, values] of statements) results.push(await q.query(sql, values));
        return results;
      });
    },
    async exec(sql) {
      await db.exec(sql);
    },
    query: (sql, params) => wrap(db).query(sql, params),
    async ping() {
      await db.query('SELECT 1');
    },
    async close() {
      if (!db.closed) await db.close();
    },
  };
}
