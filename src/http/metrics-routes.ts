/**
 * `/metrics` on the main listener: served before tenant resolution on any host, and only
 * with METRICS_TOKEN configured (bearer token, compared in constant time). Without it the
 * path is a 404 here: METRICS_PORT serves the metrics on a listener of their own
 * (metrics-listener.ts), and with neither the operator has not asked for them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context, Next } from 'koa';
import { AppError, unauthorized } from '../core/errors.ts';
import type { Metrics } from '../core/metrics.ts';

const BEARER = /^Bearer +(\S+) *$/i;

function digest(value: string): Buffer {
  // Hashing first makes both sides the same length, so the comparison leaks nothing, not even the length.
  return createHash('sha256').update(value).digest();
}

/** A constant-time check of an Authorization header against the token. */
export function bearerMatcher(token: string): (authorization: string) => boolean {
  const expected = digest(token);
  return (authorization) => {
    const presented = BEARER.exec(authorization)?.[1];
    return presented !== undefined && timingSafeEqual(digest(presented), expected);
  };
}

export function metricsRoutes(metrics: Metrics, token: string | undefined) {
  const authorized = token ? bearerMatcher(token) : undefined;
  return async function metricsEndpoint(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/metrics') return next();
    if (!authorized) throw new AppError('not_found', 404, 'no such resource');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') throw new AppError('method_not_allowed', 405, 'method not allowed on this resource', { headers: { allow: 'GET, HEAD' } });
    if (!authorized(ctx.get('authorization'))) throw unauthorized('a valid metrics token is required');
    ctx.set('Cache-Control', 'no-store');
    ctx.type = metrics.contentType;
    ctx.body = await metrics.text();
  };
}
