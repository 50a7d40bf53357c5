/**
 * A connection's own callback path (`redirect_path`, issue 14 item 3): the path on the
 * tenant's issuer the upstream sends the browser back to, for a tenant whose IT department
 * registered a path of its own (say `/signin-oidc`) at its IdP. Only a plain absolute path
 * is taken: no scheme or host (it is always the tenant's issuer), no query or fragment, no
 * `.`/`..` or empty steps, no percent-encoding (which could spell those), and nothing under
 * a path Atrium or oidc-provider already serves, so a callback can never shadow a route.
 */
import { z } from 'zod';
import { RELAY_PATH, RELAYED_CALLBACK_PATH, TENANT_CALLBACK_PATH } from './redirect-uris.ts';

/** First path steps that belong to Atrium's own routes and oidc-provider's endpoints. */
const RESERVED_FIRST_STEPS = new Set([
  '_ops', '.well-known', 'account', 'admin', 'api', 'assets', 'auth', 'backchannel', 'branding.css', 'demo', 'device', 'healthz',
  'interaction', 'jwks', 'me', 'metrics', 'platform', 'readyz', 'reg', 'request', 'session', 'tenants', 'token',
]);
const STEP = /^[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,99}$/;

function problem(path: string): string | undefined {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:/.test(path)) return 'must be a path, not a URL (no scheme)';
  if (!path.startsWith('/')) return 'must start with /';
  if (path.startsWith('//')) return 'must not start with // (that names a host)';
  if (/[?#]/.test(path)) return 'must not have a query or a fragment';
  if (path.includes('%')) return 'must not be percent-encoded';
  if (path.includes('\\')) return 'must not contain a backslash';
  const steps = path.slice(1).split('/');
  if (steps.some((s) => s === '.' || s === '..')) return 'must not contain . or .. steps';
  if (steps.some((s) => s === '')) return 'must not contain empty steps (// or a trailing /)';
  if (!steps.every((s) => STEP.test(s))) return 'each step must be letters, digits, and . _ ~ - (not starting with .)';
  if (RESERVED_FIRST_STEPS.has(steps[0]!.toLowerCase())) return `must not be under /${steps[0]}, which Atrium serves itself`;
  if (path === RELAYED_CALLBACK_PATH || path === RELAY_PATH) return `must not be ${path}, which Atrium serves itself`;
  return undefined;
}

/** Whether a request path could be some connection's `redirect_path` (the flow's routes ask before looking at a state). */
export const couldBeRedirectPath = (path: string): boolean => problem(path) === undefined;

export const redirectPath = z
  .string()
  .max(200)
  .superRefine((path, ctx) => {
    const why = problem(path);
    if (why) ctx.addIssue({ code: 'custom', message: why });
  })
  // The default given explicitly is the default: stored as none.
  .transform((path) => (path === TENANT_CALLBACK_PATH ? null : path));
