/**
 * The per-request context carried through every await by AsyncLocalStorage. The storage
 * layer reads the tenant from here, so a query can never pick its tenant from a request body.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

export class RequestContext {
  readonly correlationId: string;
  readonly rootLog: Logger | undefined;
  #tenantId: string | undefined;
  #tenantSlug: string | undefined;
  #log: Logger | undefined;

  constructor(correlationId: string, rootLog: Logger | undefined, tenant?: { id: string; slug?: string }) {
    this.correlationId = correlationId;
    this.rootLog = rootLog;
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
  return storage.run(new RequestContext(parent?.correlationId ?? 'internal', parent?.rootLog, { id: tenantId }), fn);
}
