/**
 * Sign-in for Atrium's own pages on a tenant's host: /account (every user), /admin
 * (owners and admins) and, on the platform host, /platform (platform admins).
 *
 * The pages are a first-party relying party of the tenant's own Provider (client
 * `atrium-console`, public, PKCE), so they get exactly the sign-in end users get:
 * password, MFA, lockout, federation, branding. The authorization code is redeemed in
 * process: it is found through the Provider's own model, checked (client, redirect URI,
 * PKCE verifier, nonce, expiry) and marked used atomically. The page session is then a
 * random cookie whose hash is a `console_sessions` row of the tenant.
 *
 * A platform admin opens a tenant's /admin through a hand-off bound to their browser
 * (console-handoff.ts). The sign-in round trip and sign-out are console-sign-in.ts; who a
 * session stands for is console-principal.ts.
 */
import { randomBytes } from 'node:crypto';
import type Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { csrfToken, verifyCsrfToken } from '../core/csrf.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { currentContext, runAsTenant } from '../core/request-context.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerUrl, platformTenantSlug } from '../tenancy/tenant.ts';
import { AppError } from '../core/errors.ts';
import { readForm } from '../web/body.ts';
import { ConsoleSessionStore } from '../accounts/console-session-store.ts';
import { IssuerCookie } from '../web/issuer-cookie.ts';
import { ConsoleHandoff } from './console-handoff.ts';
import { ConsoleFlash } from './console-flash.ts';
import type { HandoffNonceStore } from '../accounts/handoff-nonce-store.ts';
import { consoleSignInRoutes, type NewConsoleSession, type UpstreamSignOut } from './console-sign-in.ts';
import { consoleActor, type ConsolePrincipal } from './console-principal.ts';

export { consoleActor, isTenantAdmin, safeReturnTo, type ConsolePrincipal } from './console-principal.ts';

const SESSION_TTL_SECONDS = 8 * 3600;

/** Who is using the console pages of this request. */
declare module 'koa' {
  interface DefaultState {
    /** The console session's principal, when there is one (set by `middleware()` below). */
    console: ConsolePrincipal | undefined;
    /** One-time results of console POSTs, for the page renderers (set by `middleware()` below). */
    consoleFlash: ConsoleFlash | undefined;
  }
}

export interface ConsoleAuthDeps {
  config: AtriumConfig;
  box: SecretBox;
  users: UserStore;
  audit: AuditLog;
  sessions: ConsoleSessionStore;
  /** oidc/grant-store.ts: the console's own authorization code is consumed in the oidc domain. */
  grants: { consumeAuthorizationCode(jti: string): Promise<boolean> };
  /** Used platform hand-off nonces, kept apart from the sessions they made. */
  handoffNonces: HandoffNonceStore;
  /** Finds the platform tenant, whose users a handed-off platform admin is re-checked against. */
  registry: Pick<TenantRegistry, 'bySlug'>;
  /** Sign-out through the upstream a sign-in came from (console-sign-in.ts). */
  upstreamSignOut?: UpstreamSignOut;
}

export class ConsoleAuth {
  readonly #deps: ConsoleAuthDeps;
  /** The platform hand-off to a tenant's /admin. */
  readonly handoff: ConsoleHandoff;
  /** One-time results between a POST and the page it redirects to (console-flash.ts). */
  readonly flash: ConsoleFlash;

  constructor(deps: ConsoleAuthDeps) {
    this.#deps = deps;
    this.flash = new ConsoleFlash(deps.box, deps.sessions);
    this.handoff = new ConsoleHandoff({
      config: deps.config,
      box: deps.box,
      audit: deps.audit,
      nonces: deps.handoffNonces,
      registry: deps.registry,
      startSession: (ctx, tenant, admin) => this.#startSession(ctx, tenant, { platformAdmin: admin, amr: ['platform'] }),
    });
  }

  get sessions(): ConsoleSessionStore {
    return this.#deps.sessions;
  }

  /** Per tenant, so tenants reached on one host through the tenant header keep separate sessions; prefixed and Secure per the issuer (core/cookie-rule.ts). */
  #cookie(ctx: Context, purpose: 'console' | 'console-login'): IssuerCookie {
    return IssuerCookie.ofTenant(ctx, purpose, { signed: purpose === 'console-login' });
  }

  /** Loads the principal for console paths; other requests pay nothing. */
  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      if (/^\/(account|admin|platform)(?:\/|$)/.test(ctx.path)) {
        const principal = await this.#principal(ctx);
        ctx.state.console = principal;
        ctx.state.consoleFlash = this.flash;
        // The audit log names whoever signed in here on every change these pages make.
        const context = currentContext();
        if (principal && context) context.actor = consoleActor(ctx, principal);
      }
      await next();
    };
  }

  async #principal(ctx: Context): Promise<ConsolePrincipal | undefined> {
    const tenant = ctx.state.tenant;
    const id = this.#cookie(ctx, 'console').get(ctx);
    if (!id || id.length > 100) return undefined;
    const session = await this.#deps.sessions.findLive(id);
    if (!session) return undefined;
    const csrf = csrfToken(ctx.state.runtime.keys('csrf'), `console:${session.idHash}`);
    if (session.platformAdminId) {
      // Read afresh like a tenant user's roles: a platform admin disabled or demoted on the
      // platform loses every tenant /admin they were handed, at once.
      const platform = await this.#stillPlatformAdmin(session.platformAdminId);
      if (!platform) return undefined;
      return {
        sessionIdHash: session.idHash, userId: null, email: session.platformAdminEmail ?? '', name: null, roles: [], platformAdmin: true, platformAdminId: session.platformAdminId,
        amr: session.amr, authenticatedAt: session.authenticatedAt, oidcSessionUid: null, csrf, hasFlash: session.hasFlash,
        platformConsoleUrl: issuerUrl(platform, this.#deps.config, '/platform').href,
      };
    }
    const user = session.userId ? await this.#deps.users.findById(session.userId) : undefined;
    if (!user || user.status !== 'active') return undefined;
    const onPlatform = tenant.slug === platformTenantSlug(this.#deps.config);
    const platformAdmin = onPlatform && user.roles.includes('platform_admin');
    return {
      sessionIdHash: session.idHash,
      userId: user.id,
      email: user.email,
      name: user.name,
      roles: user.roles,
      platformAdmin,
      ...(platformAdmin ? { platformConsoleUrl: '/platform' } : {}),
      amr: session.amr,
      authenticatedAt: session.authenticatedAt,
      oidcSessionUid: session.oidcSessionUid,
      csrf,
      hasFlash: session.hasFlash,
    };
  }

  /** The platform tenant when `id` is still an active platform admin there; undefined otherwise. */
  async #stillPlatformAdmin(id: string): Promise<Tenant | undefined> {
    const platform = await this.#deps.registry.bySlug(platformTenantSlug(this.#deps.config));
    if (!platform) return undefined;
    const admin = await runAsTenant(platform.id, () => this.#deps.users.findById(id));
    return admin?.status === 'active' && admin.roles.includes('platform_admin') ? platform : undefined;
  }

  /**
   * The principal of a console page, or the way to get one: a GET without a session is
   * sent to sign in and brought back; anything else without a session is a 401. A
   * principal that fails `allowed` gets a 403.
   */
  require(ctx: Context, allowed: (p: ConsolePrincipal) => boolean = () => true): ConsolePrincipal | undefined {
    const principal = ctx.state.console;
    if (!principal) {
      if (ctx.method === 'GET' || ctx.method === 'HEAD') {
        ctx.redirect(`/account/login?${new URLSearchParams({ return_to: ctx.originalUrl }).toString()}`);
        return undefined;
      }
      throw new AppError('login_required', 401, 'Your session has ended. Sign in again.', { messageKey: 'errors.session_ended' });
    }
    if (!allowed(principal)) throw new AppError('forbidden', 403, 'You do not have access to this page.', { messageKey: 'errors.no_access' });
    return principal;
  }

  /** Reads a console form and checks its CSRF token against the signed-in session. */
  async readForm(ctx: Context, principal: ConsolePrincipal): Promise<URLSearchParams> {
    const form = await readForm(ctx);
    if (!verifyCsrfToken(ctx.state.runtime.keys('csrf'), `console:${principal.sessionIdHash}`, form.get('csrf'))) {
      throw new AppError('invalid_csrf_token', 403, 'The form has expired. Go back, reload the page and try again.', { messageKey: 'errors.form_expired_reload' });
    }
    return form;
  }

  async #startSession(ctx: Context, tenant: Tenant, session: NewConsoleSession): Promise<boolean> {
    const id = randomBytes(32).toString('base64url');
    const created = await this.#deps.sessions.create({ id, ...session, ip: ctx.ip, userAgent: ctx.get('user-agent'), ttlSeconds: SESSION_TTL_SECONDS });
    if (created) {
      this.#cookie(ctx, 'console').set(ctx, id, SESSION_TTL_SECONDS * 1000);
    }
    return created;
  }

  /**
   * The user ends their own current sign-in from /account (its session list's "Sign out"):
   * where the browser goes first when that sign-in came from an upstream (its end-session
   * endpoint, then /account/signed-out), as POST /account/logout does. Undefined: nowhere first.
   * Called before the sign-in ends, since its end forgets the upstream sign-in (session-ends.ts).
   */
  async leaveUpstream(ctx: Context, principal: ConsolePrincipal): Promise<string | undefined> {
    if (!principal.oidcSessionUid || !this.#deps.upstreamSignOut) return undefined;
    const tenant = ctx.state.tenant;
    return this.#deps.upstreamSignOut(tenant, ctx, { uid: principal.oidcSessionUid, accountId: principal.userId }, issuerUrl(tenant, this.#deps.config, '/account/signed-out').href);
  }

  /** /account/login, /account/callback, sign-out and the hand-off's own steps (console-sign-in.ts). */
  routes(): Router {
    return consoleSignInRoutes({
      ...this.#deps,
      handoff: this.handoff,
      cookie: (ctx, purpose) => this.#cookie(ctx, purpose),
      startSession: (ctx, tenant, session) => this.#startSession(ctx, tenant, session),
      readForm: (ctx, principal) => this.readForm(ctx, principal),
    });
  }
}

