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

/** What a database engine (pg pool or PGlite) must provide. */
export interface Driver {
  readonly kind: 'postgres' | 'pglite';
  /**
   * Runs `setup` then fn inside one transaction: without `params`, a parameterless
   * multi-statement string sent with BEGIN; with them, one statement bound to them.
   */
  transaction<T>(setup: string, fn: (q: Queryable) => Promise<T>, params?: readonly unknown[]): Promise<T>;
  /** Runs a script as the owner, outside any role switch (migrations). */
  exec(sql: string): Promise<void>;
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
