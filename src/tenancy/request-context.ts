/**
 * The per-request context carried through every await by AsyncLocalStorage. The storage
 * layer reads the tenant from here, so a query can never pick its tenant from a request body.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Logger } from 'pino';

export interface RequestContext {
  readonly correlationId: string;
  tenantId?: string;
  log?: Logger;
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
  return storage.run({ correlationId: parent?.correlationId ?? 'internal', log: parent?.log, tenantId }, fn);
}
