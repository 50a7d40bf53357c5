/** The contract between the database door (database.ts) and an engine: a pg pool or PGlite. */
export interface QueryResult<R> {
  rows: R[];
  rowCount: number;
}

export interface Queryable {
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  /** Runs a parameterless script of several statements. */
  exec(sql: string): Promise<void>;
}

/** A statement and its parameters. */
export type Statement = readonly [sql: string, params?: readonly unknown[]];

/** What a database engine (pg pool or PGlite) must provide. */
export interface Driver {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Called when the driver sends a statement to a server and must wait for its answer
   * (statements sent behind it before it is answered ride along), in the caller's async
   * context. PGlite, in process, has no round trips and never calls it.
   */
  onRoundTrip?: () => void;
  /**
   * A server driver with prepared statements configured starts naming statements from now on
   * (storage/statement-names.ts): called once the instance has started. PGlite has none.
   */
  startPreparing?: () => void;
  /**
   * Runs `setup` then fn inside one transaction: without `params`, a parameterless
   * multi-statement string sent with BEGIN; with them, one statement bound to them.
   */
  transaction<T>(setup: string, fn: (q: Queryable) => Promise<T>, params?: readonly unknown[]): Promise<T>;
  /**
   * Runs `setup` (bound to `params`), then `statements` in order, in one transaction, and
   * commits: on a server, all of it sent at once (one round trip). Any statement failing
   * rolls the whole back and rejects with the first failure. Returns each statement's result.
   */
  batch(setup: string, params: readonly unknown[], statements: readonly Statement[]): Promise<QueryResult<Record<string, unknown>>[]>;
  /** Runs a script as the owner, outside any role switch (migrations). */
  exec(sql: string): Promise<void>;
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
