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
 * (console-handoff.ts).
 */
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { csrfToken, verifyCsrfToken } from '../core/csrf.ts';
import type { ProviderPool } from '../runtime/provider-pool.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { currentContext, runAsTenant, type Actor } from '../core/request-context.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerFor, issuerUrl, platformTenantSlug } from '../tenancy/tenant.ts';
import { AppError } from '../core/errors.ts';
import { readForm } from '../web/body.ts';
import { ConsoleSessionStore } from '../accounts/console-session-store.ts';
import { ConsoleHandoff } from './console-handoff.ts';
import type { HandoffNonceStore } from '../accounts/handoff-nonce-store.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/console-client.ts';
import { renderTenantPage } from '../web/page.ts';

const SESSION_TTL_SECONDS = 8 * 3600;
const LOGIN_TTL_MS = 10 * 60_000;

/** Who is using the console pages of this request. */
declare module 'koa' {
  interface DefaultState {
    /** The console session's principal, when there is one (set by `middleware()` below). */
    console: ConsolePrincipal | undefined;
  }
}

export interface ConsolePrincipal {
  sessionIdHash: string;
  /** The tenant user; null for a platform admin visiting through a hand-off. */
  userId: string | null;
  email: string;
  name: string | null;
  /** The user's roles in this tenant, read afresh on every request. */
  roles: readonly string[];
  /** A platform admin (on the platform host, or handed off to this tenant's /admin). */
  platformAdmin: boolean;
  /** The platform admin's user id (in the platform tenant) when handed off to this tenant. */
  platformAdminId?: string;
  amr: readonly string[];
  /** When the user last proved who they are with `amr` (web/reauthentication.ts); null if unknown. */
  authenticatedAt: Date | null;
  /** The tenant sign-in (oidc-provider session) this console session came from. */
  oidcSessionUid: string | null;
  /** The CSRF token every console form must carry in a `csrf` field. */
  csrf: string;
}

/** The audit actor of a console user: their id, or `platform:<id>` for a handed-off platform admin. */
export function consoleActor(ctx: Context, p: ConsolePrincipal): Actor {
  return {
    type: p.userId ? 'user' : 'platform_admin',
    id: p.userId ?? `platform:${p.platformAdminId ?? p.email}`,
    email: p.email,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent'),
  };
}

export const isTenantAdmin = (p: ConsolePrincipal) => p.platformAdmin || p.roles.includes('owner') || p.roles.includes('admin');

export interface ConsoleAuthDeps {
  config: AtriumConfig;
  box: SecretBox;
  users: UserStore;
  audit: AuditLog;
  pool: ProviderPool;
  sessions: ConsoleSessionStore;
  /** oidc/grant-store.ts: the console's own authorization code is consumed in the oidc domain. */
  grants: { consumeAuthorizationCode(jti: string): Promise<boolean> };
  /** Used platform hand-off nonces, kept apart from the sessions they made. */
  handoffNonces: HandoffNonceStore;
  /** Finds the platform tenant, whose users a handed-off platform admin is re-checked against. */
  registry: Pick<TenantRegistry, 'bySlug'>;
}

interface PendingLogin { state: string; nonce: string; verifier: string; returnTo: string; exp: number }

/** Only paths of Atrium's own pages; anything else (an absolute URL, `//host`) would be an open redirect. */
export function safeReturnTo(value: unknown, fallback = '/account'): string {
  return typeof value === 'string' && /^\/(account|admin|platform)(?:[/?#]|$)/.test(value) && !value.includes('\\') ? value : fallback;
}

export class ConsoleAuth {
  readonly #deps: ConsoleAuthDeps;
  /** The platform hand-off to a tenant's /admin. */
  readonly handoff: ConsoleHandoff;

  constructor(deps: ConsoleAuthDeps) {
    this.#deps = deps;
    this.handoff = new ConsoleHandoff({
      config: deps.config,
      box: deps.box,
      audit: deps.audit,
      nonces: deps.handoffNonces,
      registry: deps.registry,
      secure: (tenant) => this.#secure(tenant),
      startSession: (ctx, tenant, admin) => this.#startSession(ctx, tenant, { platformAdmin: admin, amr: ['platform'] }),
    });
  }

  get sessions(): ConsoleSessionStore {
    return this.#deps.sessions;
  }

  #secure(tenant: Tenant): boolean {
    return issuerFor(tenant, this.#deps.config).startsWith('https:');
  }

  /** Per tenant, so tenants reached on one host through the tenant header keep separate sessions. */
  #cookieName(tenant: Tenant, purpose: 'console' | 'console-login'): string {
    return `${this.#secure(tenant) && purpose === 'console' ? '__Host-' : ''}atrium.${tenant.slug}.${purpose}`;
  }

  #csrfKeys(tenant: Tenant): Buffer[] {
    return this.#deps.box.deriveKeys('csrf', tenant.id);
  }

  /** Loads the principal for console paths; other requests pay nothing. */
  middleware() {
    return async (ctx: Context, next: Next): Promise<void> => {
      if (/^\/(account|admin|platform)(?:\/|$)/.test(ctx.path)) {
        const principal = await this.#principal(ctx);
        ctx.state.console = principal;
        // The audit log names whoever signed in here on every change these pages make.
        const context = currentContext();
        if (principal && context) context.actor = consoleActor(ctx, principal);
      }
      await next();
    };
  }

  async #principal(ctx: Context): Promise<ConsolePrincipal | undefined> {
    const tenant = ctx.state.tenant;
    const id = ctx.cookies.get(this.#cookieName(tenant, 'console'));
    if (!id || id.length > 100) return undefined;
    const session = await this.#deps.sessions.findLive(id);
    if (!session) return undefined;
    const csrf = csrfToken(this.#csrfKeys(tenant), `console:${session.idHash}`);
    if (session.platformAdminId) {
      // Read afresh like a tenant user's roles: a platform admin disabled or demoted on the
      // platform loses every tenant /admin they were handed, at once.
      if (!(await this.#stillPlatformAdmin(session.platformAdminId))) return undefined;
      return { sessionIdHash: session.idHash, userId: null, email: session.platformAdminEmail ?? '', name: null, roles: [], platformAdmin: true, platformAdminId: session.platformAdminId, amr: session.amr, authenticatedAt: session.authenticatedAt, oidcSessionUid: null, csrf };
    }
    const user = session.userId ? await this.#deps.users.findById(session.userId) : undefined;
    if (!user || user.status !== 'active') return undefined;
    const onPlatform = tenant.slug === platformTenantSlug(this.#deps.config);
    return {
      sessionIdHash: session.idHash,
      userId: user.id,
      email: user.email,
      name: user.name,
      roles: user.roles,
      platformAdmin: onPlatform && user.roles.includes('platform_admin'),
      amr: session.amr,
      authenticatedAt: session.authenticatedAt,
      oidcSessionUid: session.oidcSessionUid,
      csrf,
    };
  }

  async #stillPlatformAdmin(id: string): Promise<boolean> {
    const platform = await this.#deps.registry.bySlug(platformTenantSlug(this.#deps.config));
    if (!platform) return false;
    const admin = await runAsTenant(platform.id, () => this.#deps.users.findById(id));
    return admin?.status === 'active' && admin.roles.includes('platform_admin');
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
    if (!verifyCsrfToken(this.#csrfKeys(ctx.state.tenant), `console:${principal.sessionIdHash}`, form.get('csrf'))) {
      throw new AppError('invalid_csrf_token', 403, 'The form has expired. Go back, reload the page and try again.', { messageKey: 'errors.form_expired_reload' });
    }
    return form;
  }

  async #startSession(ctx: Context, tenant: Tenant, session: { userId?: string; platformAdmin?: { id: string; email: string; handoffNonce: string }; oidcSessionUid?: string; amr: string[]; authenticatedAt?: Date }): Promise<boolean> {
    const id = randomBytes(32).toString('base64url');
    const created = await this.#deps.sessions.create({ id, ...session, ip: ctx.ip, userAgent: ctx.get('user-agent'), ttlSeconds: SESSION_TTL_SECONDS });
    if (created) {
      ctx.cookies.set(this.#cookieName(tenant, 'console'), id, { httpOnly: true, sameSite: 'lax', secure: this.#secure(tenant), maxAge: SESSION_TTL_SECONDS * 1000, overwrite: true });
    }
    return created;
  }

  routes(): Router {
    const router = new Router({ prefix: '/account' });
    const { config, audit, pool, sessions, grants } = this.#deps;

    router.get('/login', async (ctx) => {
      const tenant = ctx.state.tenant;
      const pending: PendingLogin = {
        state: randomBytes(16).toString('base64url'),
        nonce: randomBytes(16).toString('base64url'),
        verifier: randomBytes(32).toString('base64url'),
        returnTo: safeReturnTo(ctx.query.return_to),
        exp: Date.now() + LOGIN_TTL_MS,
      };
      ctx.cookies.set(this.#cookieName(tenant, 'console-login'), Buffer.from(JSON.stringify(pending)).toString('base64url'), { signed: true, httpOnly: true, sameSite: 'lax', secure: this.#secure(tenant), maxAge: LOGIN_TTL_MS, overwrite: true });
      const params = new URLSearchParams({
        client_id: CONSOLE_CLIENT_ID,
        response_type: 'code',
        redirect_uri: issuerUrl(tenant, config, '/account/callback').href,
        scope: 'openid email profile',
        state: pending.state,
        nonce: pending.nonce,
        code_challenge: createHash('sha256').update(pending.verifier).digest('base64url'),
        code_challenge_method: 'S256',
      });
      if (typeof ctx.query.lang === 'string') params.set('ui_locales', ctx.query.lang.slice(0, 35));
      ctx.redirect(`/auth?${params.toString()}`);
    });

    router.get('/callback', async (ctx) => {
      const tenant = ctx.state.tenant;
      const issuer = issuerFor(tenant, config);
      const cookieName = this.#cookieName(tenant, 'console-login');
      const raw = ctx.cookies.get(cookieName, { signed: true });
      ctx.cookies.set(cookieName, null, { signed: true });
      let pending: PendingLogin | undefined;
      try {
        pending = raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString()) as PendingLogin) : undefined;
      } catch {
        pending = undefined;
      }
      if (!pending || pending.exp < Date.now() || typeof ctx.query.state !== 'string' || ctx.query.state !== pending.state) {
        throw new AppError('invalid_state', 400, 'This sign-in was not started in this browser, or took too long. Start again.', { messageKey: 'errors.sign_in_not_started_here' });
      }
      if (typeof ctx.query.error === 'string') return ctx.redirect('/account/login-cancelled');
      if (ctx.query.iss !== issuer) throw new AppError('invalid_issuer', 400, 'The sign-in answer came from an unexpected issuer.', { messageKey: 'errors.unexpected_issuer' });
      const runtime = await pool.get(tenant);
      const code = typeof ctx.query.code === 'string' ? await runtime.provider.AuthorizationCode.find(ctx.query.code) : undefined;
      const verified = code
        && code.clientId === CONSOLE_CLIENT_ID
        && code.redirectUri === issuerUrl(tenant, config, '/account/callback').href
        && code.nonce === pending.nonce
        && code.codeChallengeMethod === 'S256'
        && code.codeChallenge === createHash('sha256').update(pending.verifier).digest('base64url')
        && !code.isExpired
        && typeof code.accountId === 'string';
      if (!verified || !(await grants.consumeAuthorizationCode(code.jti))) {
        throw new AppError('invalid_grant', 400, 'This sign-in link has already been used or has expired. Start again.', { messageKey: 'errors.sign_in_link_used' });
      }
      const accountId = code.accountId!;
      // The sign-in's own time (auth_time): an SSO session reused silently is not a recent authentication.
      const authenticatedAt = typeof code.authTime === 'number' ? new Date(code.authTime * 1000) : undefined;
      await this.#startSession(ctx, tenant, { userId: accountId, oidcSessionUid: code.sessionUid, amr: code.amr ?? [], authenticatedAt });
      await audit.record({ action: 'console.sign_in', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
      ctx.redirect(pending.returnTo);
    });

    router.get('/login-cancelled', async (ctx) => {
      await renderTenantPage(ctx, 'error', (t) => ({ title: 'console.cancelled_title', heading: t('console.cancelled_title'), message: t('console.cancelled_message') }));
    });

    this.handoff.mount(router);

    router.post('/logout', async (ctx) => {
      const tenant = ctx.state.tenant;
      const principal = ctx.state.console;
      if (principal) {
        await this.readForm(ctx, principal);
        await sessions.delete(principal.sessionIdHash);
        // Signing out of the pages also ends the browser's sign-in at the tenant.
        if (principal.oidcSessionUid) {
          const runtime = await pool.get(tenant);
          const oidcSession = await runtime.provider.Session.findByUid(principal.oidcSessionUid);
          await oidcSession?.destroy();
        }
        await audit.record({ action: 'console.sign_out', actor: principal.userId ?? `platform:${principal.platformAdminId ?? principal.email}`, target: principal.userId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
        if (principal.platformAdminId) await this.handoff.auditOnPlatform(ctx, tenant, { id: principal.platformAdminId, email: principal.email }, 'console.platform_admin_signed_out');
      }
      ctx.cookies.set(this.#cookieName(tenant, 'console'), null);
      ctx.status = 303;
      ctx.redirect('/account/signed-out');
    });

    router.get('/signed-out', async (ctx) => {
      await renderTenantPage(ctx, 'logged-out', { title: 'logout.signed_out_title', clientName: '' });
    });

    return router;
  }
}

