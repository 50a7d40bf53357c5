/** A cookie of Atrium's on a tenant's issuer, set, read and cleared under core/cookie-rule.ts. */
import type { Context } from 'koa';
import type { CookieRule } from '../core/cookie-rule.ts';

/** Atrium's cookie of `base` on a tenant's issuer: set, read and cleared with one set of attributes. */
export class IssuerCookie {
  /** The request's tenant's cookie `atrium.<slug>.<purpose>`: per tenant, so tenants reached on one host (the tenant header) keep theirs apart. */
  static ofTenant(ctx: Context, purpose: string, options: { path?: string; signed?: boolean } = {}): IssuerCookie {
    return new IssuerCookie(ctx.state.runtime.cookies, `atrium.${ctx.state.tenant.slug}.${purpose}`, options);
  }

  readonly #rule: CookieRule;
  readonly #base: string;
  readonly #path: string;
  readonly #signed: boolean;

  /** `rule`: the tenant's (TenantRuntime.cookies). */
  constructor(rule: CookieRule, base: string, options: { path?: string; signed?: boolean } = {}) {
    this.#rule = rule;
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
