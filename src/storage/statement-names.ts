/**
 * Names for the statements a pg connection prepares once and then only binds and executes
 * (DATABASE_PREPARED_STATEMENTS). An unnamed statement is parsed and planned by PostgreSQL at
 * every execution; on a refresh grant that was half of its database time. A name is derived
 * from the statement's text, so one text always has one name on every connection.
 *
 * Bounded: a connection is given names for at most PER_CONNECTION texts, and what comes after
 * runs unnamed, so statements built at run time cannot make a server connection hold plans
 * without end. Switched off for good (`refuse`) when the server side turns out not to keep
 * them: a pooler in transaction mode without prepared-statement support hands each
 * transaction another server connection, where the name does not exist.
 */
import { createHash } from 'node:crypto';

const PER_CONNECTION = 256;
const KNOWN_TEXTS = 4096;

/** The SQLSTATEs of a prepared statement missing, or already present, on the server connection. */
const REFUSAL_CODES = new Set(['26000', '42P05']);

export const refusedPreparedStatement = (err: unknown): boolean => REFUSAL_CODES.has((err as { code?: string }).code ?? '');

/** A prepared plan whose table changed under it (a migration by a newer instance): PostgreSQL will not run it again on that connection. */
const stalePreparedStatement = (err: unknown): boolean => (err as { code?: string }).code === '0A000' && /cached plan/.test(String((err as Error).message));

/** The server connection does not hold a prepared statement as the driver expected: refused, or stale. */
export const preparedStatementMismatch = (err: unknown): boolean => refusedPreparedStatement(err) || stalePreparedStatement(err);

export class StatementNames<Connection extends object> {
  readonly #configured: boolean;
  #started = false;
  #refused = false;
  readonly #names = new Map<string, string>();
  readonly #given = new WeakMap<Connection, Set<string>>();

  /** `configured`: DATABASE_PREPARED_STATEMENTS. Names are given only once `start` is called. */
  constructor(configured: boolean) {
    this.#configured = configured;
  }

  get enabled(): boolean {
    return this.#configured && this.#started && !this.#refused;
  }

  /**
   * From now on, name statements (if configured and not refused). Called once the instance
   * has started: start-up (migrations, the context key, bootstrap) runs unnamed, so whether a
   * pooler keeps names can only cost requests, never the start.
   */
  start(): void {
    this.#started = true;
  }

  /** The name `sql` runs under on `connection`, or undefined to run it unnamed. */
  nameFor(connection: Connection, sql: string): string | undefined {
    if (!this.enabled) return undefined;
    const name = this.#nameOf(sql);
    let given = this.#given.get(connection);
    if (!given) this.#given.set(connection, (given = new Set()));
    if (given.has(name)) return name;
    if (given.size >= PER_CONNECTION) return undefined;
    given.add(name);
    return name;
  }

  /** Names are not kept by the server side: run everything unnamed from now on. */
  refuse(): void {
    this.#refused = true;
  }

  #nameOf(sql: string): string {
    let name = this.#names.get(sql);
    if (!name) {
      name = `atrium_${createHash('sha256').update(sql).digest('base64url').slice(0, 24)}`;
      // Texts are few (the code's statements); a bound in case some are built at run time.
      if (this.#names.size >= KNOWN_TEXTS) this.#names.clear();
      this.#names.set(sql, name);
    }
    return name;
  }
}
