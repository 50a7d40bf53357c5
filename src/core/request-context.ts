/**
 * The per-request context carried through every await by AsyncLocalStorage. The storage
 * layer reads the tenant from here, so a query can never pick its tenant from a request body.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';

/**
 * Who is making the request's changes, set once by the door it came through (management
 * API, console pages, CLI, bootstrap): the audit log names it on every event, so services
 * record changes without being told who asked.
 */
export interface Actor {
  type: 'client' | 'user' | 'platform_admin' | 'system';
  /** As the audit log's actor column shows it: `client:<id>`, a user id, `platform:<user id>`, `system:<name>`. */
  id: string;
  /** Users and platform admins: their email, recorded beside the id. */
  email?: string;
  ip?: string;
  userAgent?: string;
}

/** What a request asked of the database: counted by storage/database.ts, reported as a metric. */
export interface DatabaseWork {
  transactions: number;
  /** Waits on a database server (storage/driver.ts `onRoundTrip`); pipelined statements share one. */
  roundTrips: number;
}

export class RequestContext {
  readonly correlationId: string;
  readonly rootLog: Logger | undefined;
  /** Shared with the contexts derived from this one (runAsTenant, runAs), so nothing goes uncounted. */
  readonly databaseWork: DatabaseWork;
  /** Who makes this request's changes (see Actor); carried into `runAsTenant`. */
  actor: Actor | undefined;
  #tenantId: string | undefined;
  #tenantSlug: string | undefined;
  #log: Logger | undefined;

  constructor(correlationId: string, rootLog: Logger | undefined, tenant?: { id: string; slug?: string }, databaseWork: DatabaseWork = { transactions: 0, roundTrips: 0 }) {
    this.correlationId = correlationId;
    this.rootLog = rootLog;
    this.databaseWork = databaseWork;
    this.#tenantId = tenant?.id;
    this.#tenantSlug = tenant?.slug;
  }

  get tenantId(): string | undefined {
    return this.#tenantId;
  }

  get tenantSlug(): string | undefined {
    return this.#tenantSlug;
  }

  /** Makes `tenant` the tenant of the rest of the request (and of its log lines). */
  enterTenant(tenant: { id: string; slug: string }): void {
    this.#tenantId = tenant.id;
    this.#tenantSlug = tenant.slug;
    this.#log = undefined;
  }

  /**
   * The request's logger, carrying its correlation id and tenant. Built on first use: a
   * pino child (with redaction) per request is measurable, and most requests never log.
   */
  get log(): Logger | undefined {
    if (!this.#log && this.rootLog) this.#log = this.rootLog.child({ correlation_id: this.correlationId, tenant: this.#tenantSlug });
    return this.#log;
  }
}

const storage = new AsyncLocalStorage<RequestContext>();

export function currentContext(): RequestContext | undefined {
  return storage.getStore();
}

export function currentTenantId(): string | undefined {
  return storage.getStore()?.tenantId;
}

export function runWithContext<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Runs fn with `tenantId` as the current tenant (for operator commands and background work). */
export function runAsTenant<T>(tenantId: string, fn: () => T): T {
  const parent = storage.getStore();
  const context = new RequestContext(parent?.correlationId ?? 'internal', parent?.rootLog, { id: tenantId }, parent?.databaseWork);
  context.actor = parent?.actor;
  return storage.run(context, fn);
}

/** Runs fn as `actor` (operator commands, start-up provisioning), with a fresh context if there is none. */
export function runAs<T>(actor: Actor, fn: () => T): T {
  const parent = storage.getStore();
  const context = new RequestContext(parent?.correlationId ?? randomUUID(), parent?.rootLog, parent?.tenantId ? { id: parent.tenantId, slug: parent.tenantSlug } : undefined, parent?.databaseWork);
  context.actor = actor;
  return storage.run(context, fn);
}
