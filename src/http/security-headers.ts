/** Security headers on every response; the CSP allows no inline script or style. */
import type { Context, Next } from 'koa';

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: https:",
  "font-src 'self'",
  "form-action 'self' https: http:",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** The headers, as name/value pairs (also set by the provider fast path, without Koa). */
export function securityHeaderList(options: { hsts: boolean }): readonly (readonly [string, string])[] {
  return [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Frame-Options', 'DENY'],
    ['Content-Security-Policy', CSP],
    ...(options.hsts ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
  ];
}

export function securityHeaders(options: { hsts: boolean }) {
  const headers = securityHeaderList(options);
  return async function securityHeadersMiddleware(ctx: Context, next: Next): Promise<void> {
    for (const [name, value] of headers) ctx.set(name, value);
    await next();
  };
}
