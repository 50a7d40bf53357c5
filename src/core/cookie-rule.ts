/**
 * The one rule for every cookie Atrium sets (issue 19, item 5): decided by the tenant's
 * issuer, never by the request. Pure, so the Provider's configuration (oidc/) and the
 * pages (web/issuer-cookie.ts) share it.
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
/** The attributes of a cookie as Koa's cookie jar (and oidc-provider's) takes them. */
export interface CookieOptions {
  httpOnly?: boolean;
  sameSite?: 'lax' | 'strict' | 'none' | boolean;
  path?: string;
  overwrite?: boolean;
  signed?: boolean;
  maxAge?: number | undefined;
  secure?: boolean;
  domain?: string | undefined;
}

export interface CookieRule {
  /** Whether cookies are Secure (the issuer is https). */
  readonly secure: boolean;
  /** The cookie's name on this issuer: `base` with its prefix for a cookie at `path`. */
  name(base: string, path?: string): string;
  /** The attributes every Atrium cookie has: HttpOnly, SameSite=Lax, Secure per the issuer, no Domain. */
  options(extra?: Omit<CookieOptions, 'secure' | 'domain'>): CookieOptions;
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
