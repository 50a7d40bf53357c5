/**
 * What every /account page shares: its dependencies, the signed-in user it is for, the
 * home page (rendered again with a message after a refused change) and the redirect back
 * to it after a change, with a notice from a fixed list.
 */
import { matchesNetwork } from '../../accounts/device-identity.ts';
import type { Context } from 'koa';
import type { UserService } from '../../accounts/user-service.ts';
import type { UserStore } from '../../accounts/user-store.ts';
import type { LoginLockout } from '../../accounts/lockout.ts';
import type { UserSessionService } from '../../accounts/user-sessions.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { AppError } from '../../core/errors.ts';
import type { MailService } from '../../mail/mail-service.ts';
import { mfaRequiredFor } from '../../mfa/mfa-policy.ts';
import type { MfaService } from '../../mfa/mfa-service.ts';
import type { RateLimiter } from '../../security/rate-limiter.ts';
import type { PhoneVerification } from '../../sms/phone-verification.ts';
import { renderTenantPage } from '../../web/page.ts';
import type { ConsoleAuth, ConsolePrincipal } from '../console-auth.ts';

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
  phoneVerification: PhoneVerification;
}

/** The pages' dependencies and the re-authentication gate of credential changes (account-routes.ts builds it). */
export interface AccountPages extends AccountDeps {
  /** The action's CSRF-checked form once the user has re-authenticated recently enough; else the page asking for it was sent. */
  recentForm(ctx: Context, principal: AccountUser): Promise<URLSearchParams | undefined>;
}

/** A signed-in user of this tenant (their user id is never null). */
export type AccountUser = ConsolePrincipal & { userId: string };

/** Messages shown after a change (`?done=`): only these keys, so the query cannot inject text. */
const NOTICES = new Set(['profile_saved', 'password_changed', 'totp_removed', 'passkey_added', 'passkey_removed', 'session_revoked', 'totp_enrolled', 'phone_code_sent', 'phone_verified', 'phone_removed']);

/** A user of this tenant (not a platform admin visiting /admin through a hand-off). */
export function requireUser(consoleAuth: ConsoleAuth, ctx: Context): AccountUser | undefined {
  const principal = consoleAuth.require(ctx);
  if (!principal) return undefined;
  if (!principal.userId) throw new AppError('forbidden', 403, 'This page is for the organisation’s own users.', { messageKey: 'errors.members_only' });
  return principal as AccountUser;
}

/** Who made a change, for services that take it explicitly. */
export const meta = (ctx: Context, principal: ConsolePrincipal) => ({ actor: principal.userId, ip: ctx.ip, userAgent: ctx.get('user-agent') });

/** Binds a passkey registration to the console session that asked for it. */
export const passkeyBinding = (principal: ConsolePrincipal) => `account:${principal.sessionIdHash}`;

/** The account's home page: profile, password, second factors, sessions; with an error when a change was refused. */
export async function renderHome(deps: AccountDeps, ctx: Context, principal: AccountUser, extra: { error?: string; status?: number } = {}): Promise<void> {
  const tenant = ctx.state.tenant;
  const policy = ctx.state.runtime.mfa;
  const user = await deps.users.findById(principal.userId);
  if (!user) throw new AppError('login_required', 401, 'Your session has ended. Sign in again.', { messageKey: 'errors.session_ended' });
  const status = await deps.mfa.status(user.id);
  const sessions = await deps.userSessions.list(user.id, { consoleIdHash: principal.sessionIdHash, oidcSessionUid: principal.oidcSessionUid }, matchesNetwork(ctx.state.tenant));
  const registration = policy.webauthnEnabled ? JSON.stringify(await deps.mfa.passkeyRegistrationOptions(tenant, user, passkeyBinding(principal), status.passkeys)) : '';
  const phoneOffered = deps.phoneVerification.offered(tenant);
  const phone = phoneOffered ? await deps.phoneVerification.status(user.id) : undefined;
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
    phoneOffered,
    phone,
    notice: done ? t(`account.done_${done}`) : '',
    error: extra.error ? t(extra.error) : '',
    formatDate: (d: Date | null) => (d ? d.toISOString().slice(0, 16).replace('T', ' ') + ' UTC' : ''),
  }));
}

/** Back to the account page after a change, with its notice (303: the browser follows with a GET). */
export function backToAccount(ctx: Context, done?: string): void {
  ctx.status = 303;
  ctx.redirect(done ? `/account?done=${done}` : '/account');
}
