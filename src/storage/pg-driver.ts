/**
 * PostgreSQL server through a `pg` pool, its connections in pg's pipeline mode: a statement
 * is written as soon as it is issued, without waiting for the answers of those before it.
 * A transaction's BEGIN and context statement therefore travel with its first query, and a
 * `batch` (BEGIN, context, statements, COMMIT) is one round trip. Statements still run in
 * the order they were written, each behind its own Sync: one that fails aborts the
 * transaction, every later one fails with it, and COMMIT is answered ROLLBACK.
 */
import pg from 'pg';
import type { Writable } from 'node:stream';
import type { Driver, Queryable, QueryResult } from './driver.ts';
import { preparedStatementMismatch, refusedPreparedStatement, StatementNames } from './statement-names.ts';

/** pg's socket, to write several pipelined statements with one system call (loopback writes cost ~50-70 µs each here). */
function socketOf(client: pg.PoolClient): Writable | undefined {
  return (client as unknown as { connection?: { stream?: Writable } }).connection?.stream;
}

/** Issues `send` with the socket corked: what it writes leaves in one write, not one per statement. */
function corked<T>(client: pg.PoolClient, send: () => T): T {
  const socket = socketOf(client);
  socket?.cork();
  try {
    return send();
  } finally {
    socket?.uncork();
  }
}

/** The first failure in statement order: later ones only say the transaction was already aborted. */
async function allInOrder<T>(sent: Promise<T>[]): Promise<T[]> {
  const settled = await Promise.allSettled(sent);
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<T>).value);
}

const rolledBackInstead = () => Object.assign(new Error('the transaction was rolled back instead of committed'), { code: '25P02' });

/** Told of every lost connection (the process survives it: the caller answers 503, the pool reconnects). */
export type ConnectionErrorObserver = (err: Error) => void;

export interface PgDriverOptions {
  /** DATABASE_PREPARED_STATEMENTS: statements with parameters prepared once per connection (default true). */
  preparedStatements?: boolean;
  onConnectionError?: ConnectionErrorObserver;
  /** Told once when the server side refused a prepared statement; everything runs unnamed from then on. */
  onPreparedStatementsRefused?: (err: Error) => void;
}

/**
 * The pool's connections as the driver uses them: `send` writes a statement and counts the
 * round trips, `withClient` lends a connection to work that opens a transaction on it.
 */
function pooledConnections(pool: pg.Pool, options: PgDriverOptions, roundTrip: () => void) {
  const { onConnectionError = () => {}, onPreparedStatementsRefused = () => {} } = options;
  const names = new StatementNames<pg.PoolClient>(options.preparedStatements ?? true);
  /**
   * Statements written and not yet answered, per connection: a statement written when none
   * is starts a round trip (the connection waits on the server); one written behind others
   * rides along. What `roundTrips` counts.
   */
  const inFlight = new WeakMap<pg.PoolClient, number>();
  /**
   * `prepare`: run under a name (statement-names.ts), once the instance has started
   * (`startPreparing`). Only transactions and batches opened with a context do (their
   * context statement has parameters); migrations, with a lock statement only, never do.
   */
  const send = (client: pg.PoolClient, sql: string, params?: readonly unknown[], prepare = false): Promise<pg.QueryResult> => {
    const waiting = inFlight.get(client) ?? 0;
    // Without pipeline mode pg holds a statement back until the one before it is answered.
    if (waiting === 0 || !(client as { pipeline?: boolean }).pipeline) roundTrip();
    inFlight.set(client, waiting + 1);
    // Only statements with parameters: a parameterless one may be a script of several, which cannot be prepared.
    const name = prepare && params ? names.nameFor(client, sql) : undefined;
    const sent = name ? client.query({ name, text: sql, values: params as unknown[] }) : client.query(sql, params as unknown[] | undefined);
    return sent
      .catch((err: unknown) => {
        if (name && refusedPreparedStatement(err) && names.enabled) {
          names.refuse();
          onPreparedStatementsRefused(err as Error);
        }
        throw err;
      })
      .finally(() => inFlight.set(client, (inFlight.get(client) ?? 1) - 1));
  };

  /**
   * A pooled connection for `work`, which opens a transaction on it: rolled back if work
   * fails (harmless when it had ended already), destroyed if the connection broke.
   */
  async function withClient<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
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
      return await work(client);
    } catch (err) {
      try {
        await send(client, 'ROLLBACK');
      } catch {
        broken = true;
      }
      // The server connection's prepared statements are not what pg thinks they are: drop it with them.
      if (preparedStatementMismatch(err)) broken = true;
      throw err;
    } finally {
      // A broken client keeps the listener (it may still emit) and is destroyed, never reused.
      if (!broken) client.off('error', onError);
      client.release(broken);
    }
  }

  return { send, withClient, startPreparing: () => names.start() };
}

export function createPgDriver(connectionString: string, max: number, options: PgDriverOptions = {}): Driver {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 5_000, pipeline: true });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', (err) => options.onConnectionError?.(err));

  const { send, withClient, startPreparing } = pooledConnections(pool, options, () => driver.onRoundTrip?.());

  const asQueryable = (client: pg.PoolClient, prepare: boolean): Queryable => ({
    async query<R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      const res = await send(client, sql, params, prepare);
      return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
    },
    async exec(sql: string): Promise<void> {
      await send(client, sql);
    },
  });
  const poolQuery = async <R>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> => {
    driver.onRoundTrip?.();
    const res = await pool.query(sql, params as unknown[] | undefined);
    return { rows: res.rows as R[], rowCount: res.rowCount ?? 0 };
  };

  const driver: Driver = {
    kind: 'postgres',
    startPreparing,
    async transaction(setup, fn, params) {
      return withClient(async (client) => {
        // BEGIN and the context statement are not waited for: they leave with fn's first
        // statement, in one write. Should either fail, that statement fails too (aborted
        // transaction, so nothing runs without its context), and their error is the one reported.
        const [begun, running] = corked(client, () => {
          const setUp = params ? allInOrder([send(client, 'BEGIN'), send(client, setup, params, true)]) : send(client, `BEGIN; ${setup}`);
          setUp.catch(() => {});
          return [setUp, fn(asQueryable(client, params !== undefined))] as const;
        });
        let result;
        try {
          result = await running;
        } catch (err) {
          await begun;
          throw err;
        }
        await begun;
        // A statement that failed inside (its error caught) aborted the transaction; PostgreSQL then answers COMMIT with ROLLBACK, not an error. PGlite rejects there too.
        if ((await send(client, 'COMMIT')).command === 'ROLLBACK') throw rolledBackInstead();
        return result;
      });
    },
    async batch(setup, params, statements) {
      return withClient(async (client) => {
        const sent = corked(client, () => [
          send(client, 'BEGIN'),
          send(client, setup, params, true),
          ...statements.map(([sql, values]) => send(client, sql, values, true)),
          send(client, 'COMMIT'),
        ]);
        const answers = await allInOrder(sent);
        if (answers.at(-1)!.command === 'ROLLBACK') throw rolledBackInstead();
        return answers.slice(2, -1).map((res) => ({ rows: res.rows, rowCount: res.rowCount ?? 0 }));
      });
    },
    async exec(sql) {
      await poolQuery(sql);
    },
    query: poolQuery,
    async ping() {
      await poolQuery('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
  return driver;
}
