/** PostgreSQL server through a `pg` pool. */
import pg from 'pg';
import type { Driver, Queryable, QueryResult } from './driver.ts';

/** Told of every lost connection (the process survives it: the caller answers 503, the pool reconnects). */
export type ConnectionErrorObserver = (err: Error) => void;

export function createPgDriver(connectionString: string, max: number, onConnectionError: ConnectionErrorObserver = () => {}): Driver {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000 });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', (err) => onConnectionError(err));

  const asQueryable = (client: pg.PoolClient | pg.Pool): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await client.query(sql, params as unknown[] | undefined);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await client.query(sql);
    },
  });

  return {
    kind: 'postgres',
    async transaction(setup, fn, params) {
      const client = await pool.connect();
      let broken = false;
      // The pool listens for errors on idle clients only. A checked-out client whose server
      // dies (crash, failover) emits 'error' too, and without a listener that would end the
      // process; its query rejects as well, and the transaction's caller answers 503.
      const onError = (err: Error) => {
        broken = true;
        onConnectionError(err);
      };
      client.on('error', onError);
      try {
        if (params) {
          await client.query('BEGIN');
          await client.query(setup, params as unknown[]);
        } else {
          await client.query(`BEGIN; ${setup}`);
        }
        const result = await fn(asQueryable(client));
        // A statement that failed inside (its error caught) aborted the transaction; PostgreSQL then answers COMMIT with ROLLBACK, not an error. PGlite rejects there too.
        if ((await client.query('COMMIT')).command === 'ROLLBACK') throw Object.assign(new Error('the transaction was rolled back instead of committed'), { code: '25P02' });
        return result;
      } catch (err) {
        try {
          await client.query('ROLLBACK');
        } catch {
          broken = true;
        }
        throw err;
      } finally {
        // A broken client keeps the listener (it may still emit) and is destroyed, never reused.
        if (!broken) client.off('error', onError);
        client.release(broken);
      }
    },
    async exec(sql) {
      await pool.query(sql);
    },
    query: (sql, params) => asQueryable(pool).query(sql, params),
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}
