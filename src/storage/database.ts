/**
 * The one door to PostgreSQL. Every transaction runs as a role that owns no table, so
 * row-level security always applies:
 *   - `withTenant` runs as `atrium_app` with `app.tenant_id` taken from the request context;
 *     without a tenant in context it throws before touching the database.
 *   - `crossTenant` runs as `atrium_platform` (policies that span tenants) and logs why.
 * Each context carries its proof (context-key.ts): the policies honour a tenant id, or the
 * platform role, only with it, so SQL that sets them itself reads nothing.
 * The owner role (DATABASE_MIGRATION_URL, else the DATABASE_URL user) is used only for
 * migrations and to load the context key.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';
import { currentContext, currentTenantId } from '../core/request-context.ts';
import { AppError, badRequest, conflict, unavailable } from '../core/errors.ts';
import type { DependencyHealth } from '../core/dependency-health.ts';
import type { ContextKey } from './context-key.ts';
import type { Driver, Queryable, QueryResult, Statement } from './driver.ts';
import { preparedStatementMismatch } from './statement-names.ts';

export type { Driver, Queryable, QueryResult, Statement } from './driver.ts';

export class MissingTenantContextError extends Error {
  constructor() {
    super('tenant-scoped query without a tenant in the request context');
    this.name = 'MissingTenantContextError';
  }
}

/**
 * SET LOCAL ROLE and the context settings in one statement. The proof is a bind parameter:
 * statement text is visible to the login's other connections (pg_stat_activity).
 */
const SET_CONTEXT = "SELECT set_config('role', $1, true), set_config('app.tenant_id', $2, true), set_config('app.context_proof', $3, true)";

/** Thrown to end `rolledBack`'s transaction with a ROLLBACK; never escapes it. */
const ROLL_BACK = new Error('rolled back on purpose');

/** The transaction open in this async context: its database context and whether it ended. */
interface OpenTransaction {
  context: string;
  q: Queryable;
  ended: boolean;
  afterCommit: (() => void)[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class Database {
  readonly driver: Driver;
  readonly #log: Logger;
  readonly #key: ContextKey;
  readonly #health: DependencyHealth | undefined;
  readonly #open = new AsyncLocalStorage<OpenTransaction>();

  constructor(driver: Driver, log: Logger, key: ContextKey, health?: DependencyHealth) {
    this.driver = driver;
    this.#log = log;
    this.#key = key;
    this.#health = health;
    // Counted on the request being served, next to its transactions (metrics-middleware.ts).
    driver.onRoundTrip = () => {
      const work = currentContext()?.databaseWork;
      if (work) work.roundTrips++;
    };
  }

  /**
   * Runs fn in a transaction scoped by RLS to the tenant of the current request context.
   * Called while a transaction of the same tenant is open in this async context (an outer
   * `withTenant`), it joins that transaction: a change and what must stand or fall with it
   * (its audit event and webhook outbox rows) commit together.
   */
  async withTenant<T>(fn: (q: Queryable) => Promise<T>): Promise<T> {
    const tenantId = currentTenantId();
    if (!tenantId) throw new MissingTenantContextError();
    if (!UUID.test(tenantId)) throw new Error('tenant id in context is not a UUID');
    return this.#joinOrRun(`tenant:${tenantId}`, fn, ['atrium_app', tenantId, this.#key.tenantProof(tenantId)]);
  }

  /**
   * `statements` in one transaction of the current tenant, as `withTenant` would run them,
   * but sent at once with BEGIN, the context statement and COMMIT: one round trip to a
   * server. For work whose statements do not depend on each other's answers; a statement
   * that fails rolls all back. Inside an open transaction of the tenant, they join it.
   */
  async withTenantBatch(statements: readonly Statement[]): Promise<QueryResult<Record<string, unknown>>[]> {
    if (this.joinsTenantTransaction()) {
      return this.withTenant(async (q) => {
        const results: QueryResult<Record<string, unknown>>[] = [];
        for (const [sql, params] of statements) results.push(await q.query(sql, params));
        return results;
      });
    }
    const tenantId = currentTenantId();
    if (!tenantId) throw new MissingTenantContextError();
    if (!UUID.test(tenantId)) throw new Error('tenant id in context is not a UUID');
    return this.#counted(() => this.driver.batch(SET_CONTEXT, ['atrium_app', tenantId, this.#key.tenantProof(tenantId)], statements));
  }

  /** One statement in its own transaction of the current tenant: `withTenantBatch` of one, a single round trip. */
  async tenantQuery<R = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    const [result] = await this.withTenantBatch([[sql, params]]);
    return result as QueryResult<R>;
  }

  /** The audited cross-tenant path: platform routes, tenant resolution, sweeps. Joins an open platform transaction as `withTenant` does. */
  async crossTenant<T>(reason: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
    this.#log.debug({ reason }, 'cross-tenant database access');
    return this.#joinOrRun('platform', fn, ['atrium_platform', '', this.#key.platformProof()]);
  }

  /**
   * Joins the open transaction only when it has the same context and has not ended (work
   * started inside a transaction but still running after it, fire-and-forget, gets its own).
   * A different context never joins: it would need switching roles mid-transaction.
   */
  async #joinOrRun<T>(context: string, fn: (q: Queryable) => Promise<T>, params: readonly unknown[]): Promise<T> {
    const open = this.#open.getStore();
    if (open && !open.ended && open.context === context) return fn(open.q);
    const tx: OpenTransaction = { context, q: undefined as unknown as Queryable, ended: false, afterCommit: [] };
    const result = await this.#run(SET_CONTEXT, (q) => {
      tx.q = q;
      return this.#open.run(tx, () => fn(q)).finally(() => {
        tx.ended = true;
      });
    }, params);
    for (const callback of tx.afterCommit) callback();
    return result;
  }

  /** Whether a `withTenant` called now would join a transaction open in this async context. */
  joinsTenantTransaction(): boolean {
    const open = this.#open.getStore();
    return Boolean(open && !open.ended && open.context === `tenant:${currentTenantId()}`);
  }

  /** Calls `callback` once the transaction open in this async context commits (never if it rolls back); at once outside one. */
  afterCommit(callback: () => void): void {
    const open = this.#open.getStore();
    if (open && !open.ended) open.afterCommit.push(callback);
    else callback();
  }

  /**
   * Runs fn in one transaction that is always rolled back, starting in the platform context;
   * `enter` switches it to a tenant (a tenant id) or back to the platform ('platform') inside
   * the same transaction, with the application's proof. For the isolation self-audit's live
   * probe: the throwaway tenants it writes never exist outside it.
   */
  async rolledBack<T>(reason: string, fn: (q: Queryable, enter: (context: string) => Promise<void>) => Promise<T>): Promise<T> {
    this.#log.debug({ reason }, 'cross-tenant database access, rolled back');
    const outcome: { done: boolean; value?: T } = { done: false };
    try {
      await this.#run(SET_CONTEXT, (q) => this.#open.run({ context: 'rolled-back', q, ended: false, afterCommit: [] }, async () => {
        const enter = async (context: string) => {
          if (context === 'platform') await q.query(SET_CONTEXT, ['atrium_platform', '', this.#key.platformProof()]);
          else if (UUID.test(context)) await q.query(SET_CONTEXT, ['atrium_app', context, this.#key.tenantProof(context)]);
          else throw new Error('a tenant context is a UUID');
        };
        outcome.value = await fn(q, enter);
        outcome.done = true;
        throw ROLL_BACK;
      }), ['atrium_platform', '', this.#key.platformProof()]);
    } catch (err) {
      if (err === ROLL_BACK && outcome.done) return outcome.value as T;
      throw err;
    }
    throw new Error('the rolled-back transaction committed');
  }

  #run<T>(setup: string, fn: (q: Queryable) => Promise<T>, params: readonly unknown[]): Promise<T> {
    return this.#counted(() => this.driver.transaction(setup, fn, params));
  }

  /** One transaction, counted on the request, its errors mapped once and the database's health noted. */
  async #counted<T>(transaction: () => Promise<T>): Promise<T> {
    const work = currentContext()?.databaseWork;
    if (work) work.transactions++;
    try {
      const result = await transaction();
      this.#health?.databaseReachable(true);
      return result;
    } catch (err) {
      const mapped = mapDatabaseError(err);
      // Only a lost connection says the database is down; a constraint or bad input does not,
      // nor a prepared statement the driver has already stopped using.
      if (mapped instanceof AppError && mapped.status === 503 && !preparedStatementMismatch(err)) this.#health?.databaseReachable(false);
      throw mapped;
    }
  }
}

const CONNECTION_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004']);

/** Maps driver errors once: unique violations are conflicts, lost connections are 503s. */
export function mapDatabaseError(err: unknown): unknown {
  if (err instanceof AppError || err instanceof MissingTenantContextError) return err;
  const e = err as { code?: string; message?: string; constraint?: string };
  if (e?.code === '23505') return conflict('a resource with the same identifier already exists');
  // Text PostgreSQL cannot store (a NUL character) is the caller's bad input, not our failure.
  if (e?.code === '22021' || e?.code === '22P05') return badRequest('the input contains characters that cannot be stored (such as NUL)');
  // The server side did not hold a prepared statement as the driver expected: the driver has
  // already stopped naming statements or dropped that connection, so trying again succeeds.
  if (preparedStatementMismatch(err)) return Object.assign(unavailable(), { cause: err });
  // Connection exceptions (class 08), operator intervention (57P: shutdown, crash recovery,
  // starting up) and too many connections are all the database being away for a while.
  if (e?.code && (CONNECTION_ERRORS.has(e.code) || e.code.startsWith('08') || e.code.startsWith('57P') || e.code === '53300')) return Object.assign(unavailable(), { cause: err });
  if (typeof e?.message === 'string' && /Connection terminated|connection timeout|Client has encountered a connection error/i.test(e.message)) {
    return Object.assign(unavailable(), { cause: err });
  }
  return err;
}
