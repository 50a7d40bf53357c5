/**
 * The platform hand-off: a platform admin, signed in on the platform host, opens a
 * tenant's /admin on the tenant's host (another origin, so no cookie is shared).
 *
 * It is a redirect round trip, bound to the browser like an OAuth code with PKCE:
 *
 *   1. /platform (POST, CSRF)          → tenant  GET /account/handoff/start
 *   2. the tenant host sets a random secret S in a cookie of its own, and sends the
 *      browser to the platform host with only SHA-256(S), the binding
 *                                      → platform GET /platform/tenants/:slug/handoff?binding=
 *   3. the platform host, seeing its signed-in platform admin's session cookie, mints a
 *      one-minute code (HMAC-signed: tenant, admin, nonce, expiry, binding)
 *                                      → tenant  GET /account/handoff?code=
 *   4. the tenant host redeems the code only if the browser's cookie S hashes to the
 *      code's binding, and only once: the nonce is claimed in console_handoff_nonces,
 *      which a sign-out does not touch, until the code's expiry.
 *
 * A code copied out of the URL (history, logs, Referer) is useless in any other browser:
 * that browser has no S, and SHA-256(S) in step 2's URL does not give S. Step 4 is a GET
 * because the binding cookie must reach the tenant host on a top-level navigation from
 * another site (SameSite=Lax cookies are not sent on a cross-site POST). Entering and
 * leaving are audited in the tenant and on the platform.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { runAsTenant } from '../core/request-context.ts';
import { issuerUrl, platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import { AppError } from '../core/errors.ts';
import type { HandoffNonceStore } from '../accounts/handoff-nonce-store.ts';
import { IssuerCookie } from '../web/issuer-cookie.ts';

const HANDOFF_TTL_SECONDS = 60;
const BINDING = /^[A-Za-z0-9_-]{43}$/;

export interface HandedOffAdmin {
  id: string;
  email: string;
  handoffNonce: string;
}

export interface ConsoleHandoffDeps {
  config: AtriumConfig;
  box: SecretBox;
  audit: AuditLog;
  nonces: HandoffNonceStore;
  registry: Pick<TenantRegistry, 'bySlug'>;
  /** Starts the handed-off console session and sets its cookie; false if it could not be stored. */
  startSession: (ctx: Context, tenant: Tenant, admin: HandedOffAdmin) => Promise<boolean>;
}

interface Claims { t: string; a: string; e: string; n: string; x: number; b: string }

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const refused = () =>
  new AppError('invalid_handoff', 400, 'This link has expired, was already used, or was opened in another browser. Open the organisation again from /platform.', { messageKey: 'errors.handoff_expired' });

export class ConsoleHandoff {
  readonly #deps: ConsoleHandoffDeps;
  readonly #keys: Buffer[];

  constructor(deps: ConsoleHandoffDeps) {
    this.#deps = deps;
    this.#keys = deps.box.deriveKeys('console-handoff', 'atrium');
  }

  /** Step 1: where /platform sends the admin's browser to open `target`'s /admin. */
  startUrl(target: Tenant): string {
    return issuerUrl(target, this.#deps.config, '/account/handoff/start').href;
  }

  /** Step 3, on the platform host for its signed-in admin: the redeeming URL for one browser's binding. */
  codeUrl(target: Tenant, admin: { id: string; email: string }, binding: string): string {
    if (!BINDING.test(binding)) throw refused();
    const claims: Claims = { t: target.id, a: admin.id, e: admin.email, n: randomBytes(16).toString('base64url'), x: Math.floor(Date.now() / 1000) + HANDOFF_TTL_SECONDS, b: binding };
    const payload = Buffer.from(JSON.stringify(claims)).toString('base64url');
    const mac = createHmac('sha256', this.#keys[0]!).update(payload).digest('base64url');
    return issuerUrl(target, this.#deps.config, `/account/handoff?${new URLSearchParams({ code: `${payload}.${mac}` }).toString()}`).href;
  }

  #open(code: unknown, tenant: Tenant): Claims | undefined {
    if (typeof code !== 'string' || code.length > 2000) return undefined;
    const [payload = '', mac = ''] = code.split('.');
    if (!this.#keys.some((key) => sameText(createHmac('sha256', key).update(payload).digest('base64url'), mac))) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Claims;
      return claims.t === tenant.id && claims.x > Date.now() / 1000 && typeof claims.b === 'string' ? claims : undefined;
    } catch {
      return undefined;
    }
  }

  #cookie(ctx: Context): IssuerCookie {
    return IssuerCookie.ofTenant(ctx, 'console-handoff', { signed: true });
  }

  /** Records a platform admin's entering or leaving a tenant on the platform, beside the tenant's own event. */
  async auditOnPlatform(ctx: Context, tenant: Tenant, admin: { id: string; email: string }, action: string): Promise<void> {
    const platform = await this.#deps.registry.bySlug(platformTenantSlug(this.#deps.config));
    if (!platform || platform.id === tenant.id) return;
    await runAsTenant(platform.id, () =>
      this.#deps.audit.record({ action, actor: `platform:${admin.id}`, target: tenant.id, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { tenant: tenant.slug, admin_email: admin.email } }),
    );
  }

  /** Steps 2 and 4, on the tenant host (under /account). */
  mount(router: Router): void {
    const { config, audit, nonces } = this.#deps;

    router.get('/handoff/start', async (ctx) => {
      const tenant = ctx.state.tenant;
      const platform = await this.#deps.registry.bySlug(platformTenantSlug(config));
      if (!platform) throw refused();
      const secret = randomBytes(32).toString('base64url');
      this.#cookie(ctx).set(ctx, secret, 2 * HANDOFF_TTL_SECONDS * 1000);
      ctx.redirect(issuerUrl(platform, config, `/platform/tenants/${encodeURIComponent(tenant.slug)}/handoff?${new URLSearchParams({ binding: sha256(secret) }).toString()}`).href);
    });

    router.get('/handoff', async (ctx) => {
      const tenant = ctx.state.tenant;
      const claims = this.#open(ctx.query.code, tenant);
      const secret = this.#cookie(ctx).get(ctx);
      if (!claims) throw refused();
      // Checked before the nonce is spent, so another browser's attempt does not use up the admin's link.
      const reason = !secret || !sameText(sha256(secret), claims.b) ? 'other_browser' : !(await nonces.claim(claims.n, new Date(claims.x * 1000))) ? 'already_used' : undefined;
      if (reason) {
        await audit.record({ action: 'console.platform_admin_refused', outcome: 'failure', actor: `platform:${claims.a}`, target: tenant.id, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { email: claims.e, reason } });
        throw refused();
      }
      this.#cookie(ctx).clear(ctx);
      const admin = { id: claims.a, email: claims.e, handoffNonce: claims.n };
      if (!(await this.#deps.startSession(ctx, tenant, admin))) throw refused();
      await audit.record({ action: 'console.platform_admin_entered', actor: `platform:${claims.a}`, target: tenant.id, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { email: claims.e } });
      await this.auditOnPlatform(ctx, tenant, admin, 'console.platform_admin_entered');
      ctx.redirect('/admin');
    });
  }
}
