/**
 * First middleware of every request: a correlation id (the caller's, if well formed),
 * echoed in X-Correlation-ID, and a child logger; both carried by AsyncLocalStorage.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { RequestContext, runWithContext } from '../core/request-context.ts';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** The caller's correlation id if well formed, else a new one. */
export function correlationIdFrom(incoming: string | undefined): string {
  return incoming !== undefined && INCOMING_ID.test(incoming) ? incoming : randomUUID();
}

/** The access line of one answered request (info level). */
export function logAccess(log: Logger, context: RequestContext, method: string, path: string, status: number, started: number): void {
  if (!log.isLevelEnabled('info')) return;
  log.info({ correlation_id: context.correlationId, tenant: context.tenantSlug, method, path, status, ms: Math.round((performance.now() - started) * 10) / 10 }, 'request');
}

export function requestContextMiddleware(log: Logger) {
  return async function requestContext(ctx: Context, next: Next): Promise<void> {
    const correlationId = correlationIdFrom(ctx.get('x-correlation-id'));
    const context = new RequestContext(correlationId, log);
    ctx.state.context = context;
    ctx.set('X-Correlation-ID', correlationId);
    const started = performance.now();
    await runWithContext(context, next);
    // The access line goes through the root logger: no per-request child is needed for it.
    logAccess(log, context, ctx.method, ctx.path, ctx.status, started);
  };
}
