/**
 * Renders every error Atrium raises itself: JSON `{error, error_description, correlation_id}`
 * for API callers, a branded page for browsers. Never a stack trace; unexpected errors are
 * logged with their stack and answered as a generic 500.
 */
import type { Context, Next } from 'koa';
import { AppError, unavailable } from '../core/errors.ts';
import { renderPage } from '../core/views.ts';
import { pageLocals } from '../web/page.ts';
import { currentContext } from '../core/request-context.ts';
import { mapDatabaseError } from '../storage/database.ts';

interface HttpishError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  message?: string;
  type?: string;
}

function toAppError(err: unknown): AppError {
  const mapped = mapDatabaseError(err);
  if (mapped instanceof AppError) return mapped;
  const e = mapped as HttpishError;
  const status = e?.status ?? e?.statusCode;
  // A 503 raised below us (oidc-provider's storage-unavailable error on an interaction page)
  // is the same outage as ours: 503 with a correlation id, not a 500.
  if (status === 503) return Object.assign(unavailable(), { cause: err });
  if (typeof status === 'number' && status >= 400 && status < 500 && e.expose !== false) {
    const code = status === 413 ? 'request_too_large' : status === 404 ? 'not_found' : status === 405 ? 'method_not_allowed' : 'invalid_request';
    return new AppError(code, status, e.message || 'invalid request');
  }
  return new AppError('server_error', 500, 'an unexpected error occurred', { cause: err });
}

export function wantsJson(ctx: Context): boolean {
  // JSON unless the caller prefers HTML (browsers say so; OAuth clients send */* or JSON).
  return ctx.path.startsWith('/api/') || ctx.accepts('json', 'html') !== 'html';
}

export async function errorMiddleware(ctx: Context, next: Next): Promise<void> {
  try {
    await next();
    if (ctx.status === 404 && ctx.body === undefined && ctx.respond !== false) throw new AppError('not_found', 404, 'no such resource');
  } catch (err) {
    const error = toAppError(err);
    const context = currentContext();
    if (error.status >= 500) context?.log?.error({ err: error.cause ?? err }, 'request failed');
    else context?.log?.debug({ code: error.code, status: error.status }, error.message);
    if (ctx.headerSent || !ctx.writable) return;
    ctx.status = error.status;
    for (const [k, v] of Object.entries(error.headers)) ctx.set(k, v);
    const description = error.expose ? error.message : 'an unexpected error occurred';
    if (wantsJson(ctx)) {
      ctx.body = { error: error.code, error_description: description, correlation_id: context?.correlationId };
    } else {
      const page = pageLocals({ tenant: ctx.state.tenant, acceptLanguage: ctx.get('accept-language') });
      const heading = page.t(error.status === 404 ? 'common.not_found_title' : 'common.error_title');
      ctx.type = 'html';
      const message = error.expose && error.messageKey ? page.t(error.messageKey) : description;
      ctx.body = await renderPage('error', { ...page, title: heading, heading, message });
    }
  }
}
