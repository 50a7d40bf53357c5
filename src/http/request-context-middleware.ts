/**
 * First middleware of every request: a correlation id (the caller's, if well formed),
 * echoed in X-Correlation-ID, and a child logger; both carried by AsyncLocalStorage.
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { RequestContext, runWithContext } from '../tenancy/request-context.ts';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

export function requestContextMiddleware(log: Logger) {
  return async function requestContext(ctx: Context, next: Next): Promise<void> {
    const incoming = ctx.get('x-correlation-id');
    const correlationId = INCOMING_ID.test(incoming) ? incoming : randomUUID();
    const context = new RequestContext(correlationId, log);
    ctx.state.context = context;
    ctx.set('X-Correlation-ID', correlationId);
    const started = performance.now();
    await runWithContext(context, next);
    // The access line goes through the root logger: no per-request child is needed for it.
    if (log.isLevelEnabled('info')) {
      log.info(
        { correlation_id: correlationId, tenant: context.tenantSlug, method: ctx.method, path: ctx.path, status: ctx.status, ms: Math.round((performance.now() - started) * 10) / 10 },
        'request',
      );
    }
  };
}
