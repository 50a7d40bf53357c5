/**
 * The signed-in user's own page on the tenant's host (`/account`): profile, password,
 * second factors (authenticator app, recovery codes, passkeys) and sessions. Sign-in and
 * sign-out are web/console-auth.ts. Every form posts the console session's CSRF token;
 * every change is audited (MFA changes by MfaService, which also announces them). A change of
 * credentials needs a recent authentication first (web/reauthentication.ts) and mails the user.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { verifyPassword } from '../../accounts/password.ts';
import { passwordViolations } from '../../accounts/password-policy.ts';
import type { UserService } from '../../accounts/user-service.ts';
import type { UserStore } from '../../accounts/user-store.ts';
import { AppError } from '../../core/errors.ts';
import { mfaPolicy, mfaRequiredFor } from '../../mfa/mfa-policy.ts';
import type { MfaService } from '../../mfa/mfa-service.ts';
import { parseCredentialResponse, type RegistrationResponseJSON } from '../../mfa/webauthn.ts';
import type { LoginLockout } from '../../accounts/lockout.ts';
import type { MailService } from '../../mail/mail-service.ts';
import { sendPasswordChangedMail } from '../../mail/password-change-mail.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RateLimiter } from '../../security/rate-limiter.ts';
import type { ConsoleAuth, ConsolePrincipal } from '../console-auth.ts';
import { renderTenantPage } from '../../web/page.ts';
import type { UserSessionService } from '../../accounts/user-sessions.ts';
import { Reauthentication } from '../reauthentication.ts';

export interface AccountDeps {
  consoleAuth: ConsoleAuth;
  users: UserStore;
  userService: UserService;
  mfa: MfaService;
  userSessions: UserSessionService;
  audit: AuditLog;
  lockout: Pick<LoginLockout, 'guard'>;
  rateLimiter: RateLimiter;
  mail: MailService;
}

/** Messages shown after a change (`?done=`): only these keys, so the query cannot inject text. */
const NOTICES = new Set(['profile_saved', 'password_changed', 'totp_removed', 'passkey_added', 'passkey_removed', 'session_revoked', 'totp_enrolled']);

/** A user of this tenant (not a platform admin visiting /admin through a hand-off). */
function requireUser(consoleAuth: ConsoleAuth, ctx: Context): (ConsolePrincipal & { userId: string }) | undefined {
  const principal = consoleAuth.require(ctx);
  if (!principal) return undefined;
  if (!principal.userId) throw new AppError('forbidden', 403, 'This page is for the organisation’s own users.', { messageKey: 'errors.members_only' });
  return principal as ConsolePrincipal & { userId: string };
}

const meta = (ctx: Context, principal: ConsolePrincipal) => ({ actor: principal.userId, ip: ctx.ip, userAgent: ctx.get('user-agent') });
const passkeyBinding = (principal: ConsolePrincipal) => `account:${principal.sessionIdHash}`;

export function accountRoutes(deps: AccountDeps): Router {
  const router = new Router({ prefix: '/account' });
  const { consoleAuth, mfa, userSessions } = deps;
  const reauth = new Reauthentication({ users: deps.users, mfa, lockout: deps.lockout, rateLimiter: deps.rateLimiter, sessions: consoleAuth.sessions, audit: deps.audit });
  /** The action's CSRF-checked form once the user has re-authenticated recently enough; else the page asking for it was sent. */
  const recentForm = async (ctx: Context, principal: ConsolePrincipal & { userId: string }) => reauth.confirm(ctx, principal, await consoleAuth.readForm(ctx, principal));

  async function home(ctx: Context, principal: ConsolePrincipal & { userId: string }, extra: { error?: string; status?: number } = {}): Promise<void> {
    const tenant = ctx.state.tenant;
    const policy = mfaPolicy(tenant);
    const user = await deps.users.findById(principal.userId);
    if (!user) throw new AppError('login_required', 401, 'Your session has ended. Sign in again.', { messageKey: 'errors.session_ended' });
    const status = await mfa.status(user.id);
    const sessions = await userSessions.list(user.id, { consoleIdHash: principal.sessionIdHash, oidcSessionUid: principal.oidcSessionUid });
    const registration = policy.webauthnEnabled ? JSON.stringify(await mfa.passkeyRegistrationOptions(tenant, user, passkeyBinding(principal), status.passkeys)) : '';
    const done = typeof ctx.query.done === 'string' && NOTICES.has(ctx.query.done) ? ctx.query.done : '';
    if (extra.status) ctx.status = extra.status;
    await renderTenantPage(ctx, 'console/account/home', (t) => ({
      title: 'account.title',
      wide: true,
      principal,
      user,
      policy,
      mfaRequired: mfaRequiredFor(policy, user),
      status,
      sessions,
      registration,
      notice: done ? t(`account.done_${done}`) : '',
      error: extra.error ? t(extra.error) : '',
      formatDate: (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : ''),
    }));
  }

  const back = (ctx: Context, done: string) => {
    ctx.status = 303;
    ctx.redirect(`/account?done=${done}`);
  };

  router.get('/', async (ctx) => {
    const principal = consoleAuth.require(ctx);
    if (!principal) return;
    // A platform admin handed off to /admin has no account here: the minimal page.
    if (!principal.userId) return renderTenantPage(ctx, 'console/account/visitor', { title: 'account.title', principal });
    await home(ctx, principal as ConsolePrincipal & { userId: string });
  });

  router.post('/profile', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await consoleAuth.readForm(ctx, principal);
    const name = (form.get('name') ?? '').trim();
    if (name.length > 200) return home(ctx, principal, { error: 'account.name_too_long', status: 400 });
    await deps.userService.update(ctx.state.tenant, principal.userId, { name: name || null });
    await deps.audit.record({ action: 'user.profile_updated', ...meta(ctx, principal), target: principal.userId });
    back(ctx, 'profile_saved');
  });

  router.post('/password', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await recentForm(ctx, principal);
    if (!form) return;
    const user = await deps.users.findById(principal.userId);
    const current = (form.get('current_password') ?? '').slice(0, 1024);
    const next = (form.get('new_password') ?? '').slice(0, 2048);
    if (!user || !(await verifyPassword(user.passwordHash, current))) {
      await deps.audit.record({ action: 'user.password_changed', outcome: 'failure', ...meta(ctx, principal), target: principal.userId, details: { reason: 'wrong_current_password' } });
      return home(ctx, principal, { error: 'account.wrong_current_password', status: 400 });
    }
    if (next !== (form.get('confirm_password') ?? '')) return home(ctx, principal, { error: 'account.passwords_differ', status: 400 });
    // The tenant's password policy, in the page's language (the API says it in English).
    const violations = passwordViolations(ctx.state.tenant, next, user.email);
    if (violations.length) {
      ctx.status = 400;
      return renderTenantPage(ctx, 'error', (t) => ({ title: 'account.password_title', heading: t('account.password_refused'), message: violations.map((v) => t(`password.${v.key}`, v.vars)).join(' ') }));
    }
    await deps.userService.update(ctx.state.tenant, principal.userId, { password: next });
    await deps.audit.record({ action: 'user.password_changed', ...meta(ctx, principal), target: principal.userId });
    sendPasswordChangedMail(deps.mail, ctx.state.tenant, user.email);
    // A new password ends every other session and withdraws the apps' tokens: whoever knew the old one is out.
    await deps.userSessions.revokeAllButCurrent(principal.userId, { consoleIdHash: principal.sessionIdHash, oidcSessionUid: principal.oidcSessionUid }, meta(ctx, principal));
    back(ctx, 'password_changed');
  });

  // ---- Authenticator app ----

  router.post('/mfa/totp', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    if (!(await recentForm(ctx, principal))) return;
    const tenant = ctx.state.tenant;
    if (!mfaPolicy(tenant).totpEnabled) throw new AppError('not_found', 404, 'Authenticator apps are not enabled for this organisation.', { messageKey: 'errors.totp_disabled' });
    const user = (await deps.users.findById(principal.userId))!;
    const totp = (await mfa.pendingTotp(tenant, user)) ?? (await mfa.startTotpEnrolment(tenant, user));
    await renderTenantPage(ctx, 'console/account/totp', { title: 'mfa.totp_setup_title', principal, totp: { ...totp, action: '/account/mfa/totp/confirm' }, error: '' });
  });

  router.post('/mfa/totp/confirm', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await recentForm(ctx, principal);
    if (!form) return;
    const tenant = ctx.state.tenant;
    const codes = await mfa.confirmTotpEnrolment(tenant, principal.userId, (form.get('code') ?? '').slice(0, 16), meta(ctx, principal));
    if (!codes) {
      const user = (await deps.users.findById(principal.userId))!;
      const totp = await mfa.pendingTotp(tenant, user);
      if (!totp) return back(ctx, 'totp_enrolled');
      ctx.status = 400;
      return renderTenantPage(ctx, 'console/account/totp', (t) => ({ title: 'mfa.totp_setup_title', principal, totp: { ...totp, action: '/account/mfa/totp/confirm' }, error: t('mfa.wrong_code') }));
    }
    // The first code proved the new factor: the session stays strong enough for the next change.
    await consoleAuth.sessions.addFactor(principal.sessionIdHash, 'otp');
    if (codes.length === 0) return back(ctx, 'totp_enrolled');
    await renderTenantPage(ctx, 'mfa/recovery-codes', { title: 'mfa.recovery_codes_title', codes });
  });

  router.post('/mfa/totp/remove', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    if (!(await recentForm(ctx, principal))) return;
    const tenant = ctx.state.tenant;
    await keepASecondFactor(ctx, principal, 'totp');
    await mfa.removeTotp(tenant, principal.userId, meta(ctx, principal));
    back(ctx, 'totp_removed');
  });

  router.post('/mfa/recovery-codes', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    if (!(await recentForm(ctx, principal))) return;
    const codes = await mfa.regenerateRecoveryCodes(ctx.state.tenant, principal.userId, meta(ctx, principal));
    await renderTenantPage(ctx, 'mfa/recovery-codes', { title: 'mfa.recovery_codes_title', codes });
  });

  // ---- Passkeys ----

  router.post('/mfa/passkeys', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await recentForm(ctx, principal);
    if (!form) return;
    const response = parseCredentialResponse<RegistrationResponseJSON>(form.get('response'));
    const ok = response ? await mfa.finishPasskeyRegistration(ctx.state.tenant, principal.userId, passkeyBinding(principal), response, form.get('name') ?? '', meta(ctx, principal)) : false;
    if (!ok) return home(ctx, principal, { error: 'account.passkey_not_registered', status: 400 });
    await consoleAuth.sessions.addFactor(principal.sessionIdHash, 'hwk');
    back(ctx, 'passkey_added');
  });

  router.post('/mfa/passkeys/remove', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await recentForm(ctx, principal);
    if (!form) return;
    const credentialId = (form.get('credential_id') ?? '').slice(0, 1024);
    await keepASecondFactor(ctx, principal, credentialId);
    await mfa.removePasskey(ctx.state.tenant, principal.userId, credentialId, meta(ctx, principal));
    back(ctx, 'passkey_removed');
  });

  /** Under a policy requiring MFA, the last second factor cannot be removed here (an admin can reset it). */
  async function keepASecondFactor(ctx: Context, principal: ConsolePrincipal & { userId: string }, removing: string): Promise<void> {
    const tenant = ctx.state.tenant;
    const policy = mfaPolicy(tenant);
    const user = await deps.users.findById(principal.userId);
    if (!user || !mfaRequiredFor(policy, user)) return;
    const status = await mfa.status(user.id);
    const left = (status.totp && removing !== 'totp' && policy.totpEnabled ? 1 : 0) + (policy.webauthnEnabled ? status.passkeys.filter((p) => p.credentialId !== removing).length : 0);
    if (left === 0) throw new AppError('mfa_required', 409, 'Your organisation requires a second factor: add another one before removing this one.', { messageKey: 'errors.keep_a_factor' });
  }

  // ---- Sessions ----

  router.post('/sessions/revoke', async (ctx) => {
    const principal = requireUser(consoleAuth, ctx);
    if (!principal) return;
    const form = await consoleAuth.readForm(ctx, principal);
    const id = (form.get('session') ?? '').slice(0, 200);
    if (!(await userSessions.revoke(principal.userId, id, meta(ctx, principal)))) throw new AppError('not_found', 404, 'No such session: it may have ended already.', { messageKey: 'errors.no_such_session' });
    back(ctx, 'session_revoked');
  });

  return router;
}
