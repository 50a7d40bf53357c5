/**
 * First middleware of every request: a correlation id (the caller's, if well formed),
 * echoed in X-Correlation-ID, and a child logger; both carried by AsyncLocalStorage.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { runWithContext, type RequestContext } from '../tenancy/request-context.ts';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function requestContextMiddleware(log: Logger) {
  return async function requestContext(ctx: Context, next: Next): Promise<void> {
    const incoming = ctx.get('x-correlation-id');
    const correlationId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    const context: RequestContext = { correlationId, log: log.child({ correlation_id: correlationId }) };
    ctx.state.context = context;
    ctx.set('X-Correlation-ID', correlationId);
    const started = performance.now();
    await runWithContext(context, next);
    context.log?.info(
      { method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - started) * 10) / 10, tenant: ctx.state.tenant?.slug },
      'request',
    );
  };
}
