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
import type { SecretBox } from '../core/secret-box.ts';
import type { AtriumConfig } from '../config/env.ts';
import { issuerFor, type Tenant } from '../tenancy/tenant.ts';
import { IssuerCookie } from './issuer-cookie.ts';

export class FormCsrf {
  readonly #box: SecretBox;
  readonly #config: AtriumConfig;

  constructor(box: SecretBox, config: AtriumConfig) {
    this.#box = box;
    this.#config = config;
  }

  #cookie(tenant: Tenant): IssuerCookie {
    return new IssuerCookie(issuerFor(tenant, this.#config), `atrium.${tenant.slug}.forms`);
  }

  #keys(tenant: Tenant): Buffer[] {
    return this.#box.deriveKeys('account-forms-csrf', tenant.id);
  }

  /** The token for a form of `purpose`, setting the browser's cookie when it has none. */
  token(ctx: Context, purpose: string): string {
    const tenant = ctx.state.tenant;
    let secret = this.#cookie(tenant).get(ctx);
    if (!secret || !/^[A-Za-z0-9_-]{22}$/.test(secret)) {
      secret = randomBytes(16).toString('base64url');
      // A browser session cookie: no Max-Age.
      this.#cookie(tenant).set(ctx, secret, undefined);
    }
    return csrfToken(this.#keys(tenant), `${purpose}:${secret}`);
  }

  /** Throws a 403 unless the form's `csrf` field matches this browser's cookie. */
  verify(ctx: Context, purpose: string, form: URLSearchParams): void {
    const tenant = ctx.state.tenant;
    const secret = this.#cookie(tenant).get(ctx);
    if (!secret || !verifyCsrfToken(this.#keys(tenant), `${purpose}:${secret}`, form.get('csrf'))) {
      throw new AppError('invalid_csrf_token', 403, 'The form has expired. Go back and try again.', { messageKey: 'errors.form_expired' });
    }
  }
}
