/** Security headers on every response; the CSP allows no inline script or style. */
import type { EdgeStep } from './edge.ts';

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

export function securityHeadersStep(options: { hsts: boolean }): EdgeStep {
  const headers: readonly (readonly [string, string])[] = [
    ['X-Content-Type-Options', 'nosniff'],
    ['Referrer-Policy', 'no-referrer'],
    ['X-Frame-Options', 'DENY'],
    ['Content-Security-Policy', CSP],
    ...(options.hsts ? [['Strict-Transport-Security', 'max-age=31536000; includeSubDomains'] as const] : []),
  ];
  return {
    name: 'security headers',
    before(edge) {
      for (const [name, value] of headers) edge.setHeader(name, value);
      return undefined;
    },
  };
}
