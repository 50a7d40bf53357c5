/**
 * /account itself, the profile (display name) and the password. A new password needs a
 * recent authentication (reauthentication.ts), follows the tenant's password policy, is
 * mailed about, and ends the user's other sessions.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { verifyPassword } from '../../accounts/password.ts';
import { passwordViolations } from '../../accounts/password-policy.ts';
import { sendPasswordChangedMail } from '../../mail/password-change-mail.ts';
import { renderTenantPage } from '../../web/page.ts';
import { backToAccount, meta, renderHome, requireUser, type AccountPages, type AccountUser } from './account-page.ts';

/** GET /account: the user's page; a platform admin handed off to /admin has no account here, so the minimal page. */
async function showAccount(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = pages.consoleAuth.require(ctx);
  if (!principal) return;
  if (!principal.userId) return renderTenantPage(ctx, 'console/account/visitor', { title: 'account.title', principal });
  await renderHome(pages, ctx, principal as AccountUser);
}

async function saveProfile(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.consoleAuth.readForm(ctx, principal);
  const name = (form.get('name') ?? '').trim();
  if (name.length > 200) return renderHome(pages, ctx, principal, { error: 'account.name_too_long', status: 400 });
  await pages.userService.update(ctx.state.tenant, principal.userId, { name: name || null });
  await pages.audit.record({ action: 'user.profile_updated', ...meta(ctx, principal), target: principal.userId });
  backToAccount(ctx, 'profile_saved');
}

async function changePassword(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.recentForm(ctx, principal);
  if (!form) return;
  const user = await pages.users.findById(principal.userId);
  const current = (form.get('current_password') ?? '').slice(0, 1024);
  const next = (form.get('new_password') ?? '').slice(0, 2048);
  if (!user || !(await verifyPassword(user.passwordHash, current))) {
    await pages.audit.record({ action: 'user.password_changed', outcome: 'failure', ...meta(ctx, principal), target: principal.userId, details: { reason: 'wrong_current_password' } });
    return renderHome(pages, ctx, principal, { error: 'account.wrong_current_password', status: 400 });
  }
  if (next !== (form.get('confirm_password') ?? '')) return renderHome(pages, ctx, principal, { error: 'account.passwords_differ', status: 400 });
  // The tenant's password policy, in the page's language (the API says it in English).
  const violations = passwordViolations(ctx.state.tenant, next, user.email);
  if (violations.length) {
    ctx.status = 400;
    return renderTenantPage(ctx, 'error', (t) => ({ title: 'account.password_title', heading: t('account.password_refused'), message: violations.map((v) => t(`password.${v.key}`, v.vars)).join(' ') }));
  }
  await pages.userService.update(ctx.state.tenant, principal.userId, { password: next });
  await pages.audit.record({ action: 'user.password_changed', ...meta(ctx, principal), target: principal.userId });
  sendPasswordChangedMail(pages.mail, ctx.state.tenant, user.email);
  // A new password ends every other session and withdraws the apps' tokens: whoever knew the old one is out.
  await pages.userSessions.revokeAllButCurrent(principal.userId, { consoleIdHash: principal.sessionIdHash, oidcSessionUid: principal.oidcSessionUid }, meta(ctx, principal));
  backToAccount(ctx, 'password_changed');
}

export function mountProfileRoutes(router: Router, pages: AccountPages): void {
  router.get('/', (ctx) => showAccount(pages, ctx));
  router.post('/profile', (ctx) => saveProfile(pages, ctx));
  router.post('/password', (ctx) => changePassword(pages, ctx));
}
