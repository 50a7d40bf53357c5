/**
 * The console's sign-in round trip and sign-out on a tenant's host (under /account):
 * `login` starts an authorization code + PKCE request to the tenant's own Provider as the
 * first-party client `atrium-console`; `callback` redeems the code in process (found through
 * the Provider's model, checked, marked used atomically) and starts the console session;
 * `logout` ends it and the tenant sign-in it came from. The hand-off's steps are mounted
 * here too (console-handoff.ts). The session itself (cookie, principal, CSRF) is
 * console-auth.ts, which builds this router with what it needs.
 */
import type { IssuerCookie } from '../web/issuer-cookie.ts';
import { createHash, randomBytes } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { issuerUrl, type Tenant } from '../tenancy/tenant.ts';
import { AppError } from '../core/errors.ts';
import type { ConsoleSessionStore } from '../accounts/console-session-store.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/console-client.ts';
import { endedSession, sendLogoutTokens } from '../oidc/backchannel-logout.ts';
import { renderTenantPage } from '../web/page.ts';
import type { ConsoleHandoff } from './console-handoff.ts';
import { safeReturnTo, type ConsolePrincipal } from './console-principal.ts';

const LOGIN_TTL_MS = 10 * 60_000;

interface PendingLogin { state: string; nonce: string; verifier: string; returnTo: string; exp: number }

/** A console session to start: a tenant user's from a sign-in (the platform hand-off starts its own). */
export interface NewConsoleSession {
  userId?: string;
  platformAdmin?: { id: string; email: string; handoffNonce: string };
  oidcSessionUid?: string;
  amr: string[];
  authenticatedAt?: Date;
}

export interface ConsoleSignInDeps {
  config: AtriumConfig;
  audit: AuditLog;
  sessions: ConsoleSessionStore;
  /** The console's authorization code is used once (oidc/grant-store.ts). */
  grants: { consumeAuthorizationCode(jti: string): Promise<boolean> };
  handoff: ConsoleHandoff;
  /** The console's cookies on the tenant's issuer (web/issuer-cookie.ts). */
  cookie: (ctx: Context, purpose: 'console' | 'console-login') => IssuerCookie;
  /** Stores the session and sets its cookie; false if it could not be stored. */
  startSession: (ctx: Context, tenant: Tenant, session: NewConsoleSession) => Promise<boolean>;
  /** A console form, its CSRF token checked against the signed-in session. */
  readForm: (ctx: Context, principal: ConsolePrincipal) => Promise<URLSearchParams>;
  /**
   * After a sign-in ended here: where the browser goes first when it came from an upstream
   * (its end-session endpoint, then back to `then`); undefined when it did not. The same
   * sign-out as RP-initiated logout's (interactions/federated-sign-out.ts, wired in services.ts).
   */
  upstreamSignOut?: UpstreamSignOut;
}

export type UpstreamSignOut = (tenant: Tenant, ctx: Pick<Context, 'cookies' | 'ip' | 'get'>, session: { uid: string; accountId: string | null }, then: string) => Promise<string | undefined>;

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** GET /account/login: remembers state, nonce and verifier in a signed cookie and goes to the tenant's /auth. */
async function startSignIn(deps: ConsoleSignInDeps, ctx: Context): Promise<void> {
  const tenant = ctx.state.tenant;
  // The tenant picker's link for a work address (interactions/tenant-picker-routes.ts): the
  // login page starts filled in, and its home-realm discovery takes the address upstream.
  const hint = ctx.query.login_hint === undefined ? undefined : loginHint(ctx.query.login_hint);
  const pending: PendingLogin = {
    state: randomBytes(16).toString('base64url'),
    nonce: randomBytes(16).toString('base64url'),
    verifier: randomBytes(32).toString('base64url'),
    returnTo: safeReturnTo(ctx.query.return_to),
    exp: Date.now() + LOGIN_TTL_MS,
  };
  deps.cookie(ctx, 'console-login').set(ctx, Buffer.from(JSON.stringify(pending)).toString('base64url'), LOGIN_TTL_MS);
  const params = new URLSearchParams({
    client_id: CONSOLE_CLIENT_ID,
    response_type: 'code',
    redirect_uri: issuerUrl(tenant, deps.config, '/account/callback').href,
    scope: 'openid email profile',
    state: pending.state,
    nonce: pending.nonce,
    code_challenge: sha256(pending.verifier),
    code_challenge_method: 'S256',
  });
  if (typeof ctx.query.lang === 'string') params.set('ui_locales', ctx.query.lang.slice(0, 35));
  if (hint) params.set('login_hint', hint);
  ctx.redirect(`/auth?${params.toString()}`);
}

function loginHint(value: unknown): string {
  const hint = typeof value === 'string' ? value.trim() : '';
  if (hint.length > 320 || !/^[^\s@]+@[^\s@]+$/.test(hint)) throw new AppError('invalid_request', 400, 'login_hint: must be one email address of at most 320 characters');
  return hint;
}

/** The sign-in this browser started, read once from its cookie (which is cleared). */
function takePendingLogin(deps: ConsoleSignInDeps, ctx: Context): PendingLogin | undefined {
  const loginCookie = deps.cookie(ctx, 'console-login');
  const raw = loginCookie.get(ctx);
  loginCookie.clear(ctx);
  try {
    return raw ? (JSON.parse(Buffer.from(raw, 'base64url').toString()) as PendingLogin) : undefined;
  } catch {
    return undefined;
  }
}

/** GET /account/callback: checks the answer, redeems the code in process and starts the console session. */
async function finishSignIn(deps: ConsoleSignInDeps, ctx: Context): Promise<void> {
  const { config, grants, audit } = deps;
  const { tenant, runtime } = ctx.state;
  const issuer = runtime.issuer;
  const pending = takePendingLogin(deps, ctx);
  if (!pending || pending.exp < Date.now() || typeof ctx.query.state !== 'string' || ctx.query.state !== pending.state) {
    throw new AppError('invalid_state', 400, 'This sign-in was not started in this browser, or took too long. Start again.', { messageKey: 'errors.sign_in_not_started_here' });
  }
  if (typeof ctx.query.error === 'string') return ctx.redirect('/account/login-cancelled');
  if (ctx.query.iss !== issuer) throw new AppError('invalid_issuer', 400, 'The sign-in answer came from an unexpected issuer.', { messageKey: 'errors.unexpected_issuer' });
  const { provider } = await runtime.provider();
  const code = typeof ctx.query.code === 'string' ? await provider.AuthorizationCode.find(ctx.query.code) : undefined;
  const verified = code
    && code.clientId === CONSOLE_CLIENT_ID
    && code.redirectUri === issuerUrl(tenant, config, '/account/callback').href
    && code.nonce === pending.nonce
    && code.codeChallengeMethod === 'S256'
    && code.codeChallenge === sha256(pending.verifier)
    && !code.isExpired
    && typeof code.accountId === 'string';
  if (!verified || !(await grants.consumeAuthorizationCode(code.jti))) {
    throw new AppError('invalid_grant', 400, 'This sign-in link has already been used or has expired. Start again.', { messageKey: 'errors.sign_in_link_used' });
  }
  const accountId = code.accountId!;
  // The sign-in's own time (auth_time): an SSO session reused silently is not a recent authentication.
  const authenticatedAt = typeof code.authTime === 'number' ? new Date(code.authTime * 1000) : undefined;
  await deps.startSession(ctx, tenant, { userId: accountId, oidcSessionUid: code.sessionUid, amr: code.amr ?? [], authenticatedAt });
  await audit.record({ action: 'console.sign_in', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
  ctx.redirect(pending.returnTo);
}

/**
 * POST /account/logout: ends the console session and the tenant sign-in it came from; a
 * sign-in that came from an upstream is then signed out there too, and the browser comes
 * back to /account/signed-out through the connection's return route.
 */
async function signOut(deps: ConsoleSignInDeps, ctx: Context): Promise<void> {
  const { sessions, audit } = deps;
  const tenant = ctx.state.tenant;
  const principal = ctx.state.console;
  const signedOutPage = issuerUrl(tenant, deps.config, '/account/signed-out').href;
  let next: string | undefined;
  if (principal) {
    await deps.readForm(ctx, principal);
    await sessions.delete(principal.sessionIdHash);
    // Signing out of the pages also ends the browser's sign-in at the tenant.
    if (principal.oidcSessionUid) {
      const { provider } = await ctx.state.runtime.provider();
      const oidcSession = await provider.Session.findByUid(principal.oidcSessionUid);
      if (oidcSession) {
        await oidcSession.destroy();
        // Destroyed (committed) here, not through end_session: its relying parties' logout tokens go from here.
        await sendLogoutTokens(provider, [endedSession(principal.oidcSessionUid, { accountId: oidcSession.accountId, authorizations: oidcSession.authorizations })], audit);
      }
      next = await deps.upstreamSignOut?.(tenant, ctx, { uid: principal.oidcSessionUid, accountId: principal.userId ?? null }, signedOutPage);
    }
    await audit.record({ action: 'console.sign_out', actor: principal.userId ?? `platform:${principal.platformAdminId ?? principal.email}`, target: principal.userId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
    if (principal.platformAdminId) await deps.handoff.auditOnPlatform(ctx, tenant, { id: principal.platformAdminId, email: principal.email }, 'console.platform_admin_signed_out');
  }
  deps.cookie(ctx, 'console').clear(ctx);
  ctx.status = 303;
  ctx.redirect(next ?? '/account/signed-out');
}

export function consoleSignInRoutes(deps: ConsoleSignInDeps): Router {
  const router = new Router({ prefix: '/account' });
  router.get('/login', (ctx) => startSignIn(deps, ctx));
  router.get('/callback', (ctx) => finishSignIn(deps, ctx));
  router.get('/login-cancelled', async function signInCancelled(ctx) {
    await renderTenantPage(ctx, 'error', (t) => ({ title: 'console.cancelled_title', heading: t('console.cancelled_title'), message: t('console.cancelled_message') }));
  });
  deps.handoff.mount(router);
  router.post('/logout', (ctx) => signOut(deps, ctx));
  router.get('/signed-out', async function signedOut(ctx) {
    await renderTenantPage(ctx, 'logged-out', { title: 'logout.signed_out_title', clientName: '' });
  });
  return router;
}
