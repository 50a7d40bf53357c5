/**
 * CSRF protection for the account pages outside a sign-in (forgot password, reset,
 * verification, invitation): a random per-browser cookie, named per tenant, and in each
 * form an HMAC of the form's purpose and that cookie under a per-tenant key. A forged
 * cross-site post lacks either the cookie's value or the key.
 */
import { randomBytes } from 'node:crypto';
import type { Context } from 'koa';
import { AppError } from '../core/errors.ts';
import { csrfToken, verifyCsrfToken } from '../core/csrf.ts';
import { IssuerCookie } from './issuer-cookie.ts';

const cookieOf = (ctx: Context) => IssuerCookie.ofTenant(ctx, 'forms');
const keysOf = (ctx: Context) => ctx.state.runtime.keys('account-forms-csrf');

export class FormCsrf {
  /** The token for a form of `purpose`, setting the browser's cookie when it has none. */
  token(ctx: Context, purpose: string): string {
    let secret = cookieOf(ctx).get(ctx);
    if (!secret || !/^[A-Za-z0-9_-]{22}$/.test(secret)) {
      secret = randomBytes(16).toString('base64url');
      // A browser session cookie: no Max-Age.
      cookieOf(ctx).set(ctx, secret, undefined);
    }
    return csrfToken(keysOf(ctx), `${purpose}:${secret}`);
  }

  /** Throws a 403 unless the form's `csrf` field matches this browser's cookie. */
  verify(ctx: Context, purpose: string, form: URLSearchParams): void {
    const secret = cookieOf(ctx).get(ctx);
    if (!secret || !verifyCsrfToken(keysOf(ctx), `${purpose}:${secret}`, form.get('csrf'))) {
      throw new AppError('invalid_csrf_token', 403, 'The form has expired. Go back and try again.', { messageKey: 'errors.form_expired' });
    }
  }
}
