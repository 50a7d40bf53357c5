/**
 * First middleware of every request: a correlation id (the caller's, if well formed),
 * echoed in X-Correlation-ID, and a child logger; both carried by AsyncLocalStorage. The
 * access line is a finishing step of the declared pipeline (pipeline.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { RequestContext, runWithContext } from '../core/request-context.ts';
import type { EdgeStep } from './edge.ts';

const INCOMING_ID = /^[A-Za-z0-9._-]{8,128}$/;

/** The caller's correlation id if well formed, else a new one. */
export function correlationIdFrom(incoming: string | undefined): string {
  return incoming !== undefined && INCOMING_ID.test(incoming) ? incoming : randomUUID();
}

/** The access line of each answered request (info level), through the root logger: no per-request child is needed for it. */
export function accessLogStep(log: Logger): EdgeStep {
  return {
    name: 'access log',
    after({ context, method, path }, status, startedAt) {
      if (!log.isLevelEnabled('info')) return;
      log.info({ correlation_id: context.correlationId, tenant: context.tenantSlug, method, path, status, ms: Math.round((performance.now() - startedAt) * 10) / 10 }, 'request');
    },
  };
}

export function requestContextMiddleware(log: Logger) {
  return async function requestContext(ctx: Context, next: Next): Promise<void> {
    const correlationId = correlationIdFrom(ctx.get('x-correlation-id'));
    const context = new RequestContext(correlationId, log);
    ctx.state.context = context;
    ctx.set('X-Correlation-ID', correlationId);
    await runWithContext(context, next);
  };
}
