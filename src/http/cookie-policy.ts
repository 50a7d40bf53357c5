/**
 * The one rule for every cookie Atrium sets (issue 19, item 5): decided by the tenant's
 * issuer, never by the request.
 *
 * - On an https issuer every cookie is `Secure`, and its name carries a prefix the browser
 *   enforces: `__Host-` for a cookie at Path=/ (which also forbids a Domain, so no sibling
 *   subdomain can plant or shadow it), `__Secure-` for one scoped to a narrower path
 *   (oidc-provider's interaction cookies, the federation cookie), since `__Host-` requires
 *   Path=/.
 * - On an http issuer (development, tests) names stay as they were and nothing is Secure:
 *   a Secure cookie set over http would be dropped by the browser.
 *
 * TLS usually ends at a proxy, so the request itself may arrive over plain http even when
 * the issuer is https; the cookie jar is told the connection is secure (what the browser
 * saw), where Koa would otherwise refuse to set a Secure cookie. Clearing a cookie goes
 * through the same rule with the same path and attributes, or a browser keeps the
 * `__Host-` cookie it was asked to forget.
 */
import type { Context } from 'koa';

type SetOption = NonNullable<Parameters<Context['cookies']['set']>[2]>;

export interface CookieRule {
  /** Whether cookies are Secure (the issuer is https). */
  readonly secure: boolean;
  /** The cookie's name on this issuer: `base` with its prefix for a cookie at `path`. */
  name(base: string, path?: string): string;
  /** The attributes every Atrium cookie has: HttpOnly, SameSite=Lax, Secure per the issuer, no Domain. */
  options(extra?: Omit<SetOption, 'secure' | 'domain'>): SetOption;
}

export function cookieRule(issuer: string): CookieRule {
  const secure = new URL(issuer).protocol === 'https:';
  return {
    secure,
    name(base, path = '/') {
      if (!secure) return base;
      return `${path === '/' ? '__Host-' : '__Secure-'}${base}`;
    },
    options(extra = {}) {
      return { httpOnly: true, sameSite: 'lax', path: '/', overwrite: true, ...extra, secure, domain: undefined };
    },
  };
}

/** Atrium's cookie of `base` on a tenant's issuer: set, read and cleared with one set of attributes. */
export class IssuerCookie {
  readonly #rule: CookieRule;
  readonly #base: string;
  readonly #path: string;
  readonly #signed: boolean;

  constructor(issuer: string, base: string, options: { path?: string; signed?: boolean } = {}) {
    this.#rule = cookieRule(issuer);
    this.#base = base;
    this.#path = options.path ?? '/';
    this.#signed = options.signed ?? false;
  }

  get name(): string {
    return this.#rule.name(this.#base, this.#path);
  }

  get(ctx: Context): string | undefined {
    return ctx.cookies.get(this.name, { signed: this.#signed });
  }

  /** `maxAgeMs` undefined: a browser-session cookie. */
  set(ctx: Context, value: string, maxAgeMs: number | undefined): void {
    this.#jar(ctx).set(this.name, value, this.#rule.options({ path: this.#path, signed: this.#signed, maxAge: maxAgeMs }));
  }

  /** Expires the cookie with the attributes it was set with (a `__Host-` cookie cleared without Secure stays). */
  clear(ctx: Context): void {
    this.#jar(ctx).set(this.name, null, this.#rule.options({ path: this.#path, signed: this.#signed }));
  }

  #jar(ctx: Context): Context['cookies'] {
    // TLS ended at a proxy in front: the browser's connection was https, whatever this one is.
    if (this.#rule.secure) ctx.cookies.secure = true;
    return ctx.cookies;
  }
}
