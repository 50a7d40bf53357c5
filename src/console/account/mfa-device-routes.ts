/**
 * /account/mfa: the user's second factors. An authenticator app is set up (QR code, then a
 * first code) or removed, recovery codes are made anew, passkeys are added or removed.
 * Every one of these needs a recent authentication first; MfaService audits each change
 * (post/redirect/get: a new enrolment and new recovery codes are shown once, on the GET page
 * the POST redirects to, from the console session's sealed flash; a reload shows them no more)
 * and mails the user. Under a policy requiring MFA the last factor cannot be removed here.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../core/errors.ts';
import { mfaRequiredFor } from '../../mfa/mfa-policy.ts';
import { parseCredentialResponse, type RegistrationResponseJSON } from '../../mfa/webauthn.ts';
import { renderTenantPage } from '../../web/page.ts';
import { backToAccount, meta, passkeyBinding, renderHome, requireUser, type AccountPages, type AccountUser } from './account-page.ts';

const TOTP_CONFIRM = '/account/mfa/totp/confirm';
/** The GET pages a POST here redirects to (post/redirect/get); each shows its result once, from the sealed flash. */
const TOTP_PAGE = '/account/mfa/totp';
const CODES_PAGE = '/account/mfa/recovery-codes';

/** Under a policy requiring MFA, the last second factor cannot be removed here (an admin can reset it). */
async function keepASecondFactor(pages: AccountPages, ctx: Context, principal: AccountUser, removing: string): Promise<void> {
  const policy = ctx.state.runtime.mfa;
  const user = await pages.users.findById(principal.userId);
  if (!user || !mfaRequiredFor(policy, user)) return;
  const status = await pages.mfa.status(user.id);
  const left = (status.totp && removing !== 'totp' && policy.totpEnabled ? 1 : 0) + (policy.webauthnEnabled ? status.passkeys.filter((p) => p.credentialId !== removing).length : 0);
  if (left === 0) throw new AppError('mfa_required', 409, 'Your organisation requires a second factor: add another one before removing this one.', { messageKey: 'errors.keep_a_factor' });
}

/** The user of a credential change who has re-authenticated recently enough, with the action's form. */
async function recentUser(pages: AccountPages, ctx: Context): Promise<{ principal: AccountUser; form: URLSearchParams } | undefined> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return undefined;
  const form = await pages.recentForm(ctx, principal);
  return form ? { principal, form } : undefined;
}

async function startTotp(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  const { principal } = recent;
  const tenant = ctx.state.tenant;
  if (!ctx.state.runtime.mfa.totpEnabled) throw new AppError('not_found', 404, 'Authenticator apps are not enabled for this organisation.', { messageKey: 'errors.totp_disabled' });
  const user = (await pages.users.findById(principal.userId))!;
  if (!(await pages.mfa.pendingTotp(tenant, user))) await pages.mfa.startTotpEnrolment(tenant, user);
  await pages.consoleAuth.flash.redirect(ctx, principal, { path: TOTP_PAGE });
}

/**
 * The enrolment the POST above started: its QR code and secret, once (the flash). A reload
 * goes back to /account, where "set up" shows the same pending enrolment again.
 */
async function showTotp(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const flash = await pages.consoleAuth.flash.take(ctx, principal);
  const user = await pages.users.findById(principal.userId);
  const totp = flash && user ? await pages.mfa.pendingTotp(ctx.state.tenant, user) : undefined;
  if (!totp) return backToAccount(ctx);
  await renderTenantPage(ctx, 'console/account/totp', { title: 'mfa.totp_setup_title', principal, totp: { ...totp, action: TOTP_CONFIRM }, error: '' });
}

/** New recovery codes, shown once: the flash a POST left; a reload goes back to /account. */
async function showRecoveryCodes(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const codes = (await pages.consoleAuth.flash.take(ctx, principal))?.codes;
  if (!codes?.length) return backToAccount(ctx);
  await renderTenantPage(ctx, 'interactions/mfa/recovery-codes', { title: 'mfa.recovery_codes_title', codes });
}

async function confirmTotp(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  const { principal, form } = recent;
  const tenant = ctx.state.tenant;
  const codes = await pages.mfa.confirmTotpEnrolment(tenant, principal.userId, (form.get('code') ?? '').slice(0, 16), meta(ctx, principal));
  if (!codes) {
    const user = (await pages.users.findById(principal.userId))!;
    const totp = await pages.mfa.pendingTotp(tenant, user);
    if (!totp) return backToAccount(ctx, 'totp_enrolled');
    ctx.status = 400;
    return renderTenantPage(ctx, 'console/account/totp', (t) => ({ title: 'mfa.totp_setup_title', principal, totp: { ...totp, action: TOTP_CONFIRM }, error: t('mfa.wrong_code') }));
  }
  // The first code proved the new factor: the session stays strong enough for the next change.
  await pages.consoleAuth.sessions.addFactor(principal.sessionIdHash, 'otp');
  if (codes.length === 0) return backToAccount(ctx, 'totp_enrolled');
  await pages.consoleAuth.flash.redirect(ctx, principal, { path: CODES_PAGE, codes });
}

async function removeTotp(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  await keepASecondFactor(pages, ctx, recent.principal, 'totp');
  await pages.mfa.removeTotp(ctx.state.tenant, recent.principal.userId, meta(ctx, recent.principal));
  backToAccount(ctx, 'totp_removed');
}

async function newRecoveryCodes(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  const codes = await pages.mfa.regenerateRecoveryCodes(ctx.state.tenant, recent.principal.userId, meta(ctx, recent.principal));
  await pages.consoleAuth.flash.redirect(ctx, recent.principal, { path: CODES_PAGE, codes });
}

async function addPasskey(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  const { principal, form } = recent;
  const response = parseCredentialResponse<RegistrationResponseJSON>(form.get('response'));
  const ok = response ? await pages.mfa.finishPasskeyRegistration(ctx.state.tenant, principal.userId, passkeyBinding(principal), response, form.get('name') ?? '', meta(ctx, principal)) : false;
  if (!ok) return renderHome(pages, ctx, principal, { error: 'account.passkey_not_registered', status: 400 });
  await pages.consoleAuth.sessions.addFactor(principal.sessionIdHash, 'hwk');
  backToAccount(ctx, 'passkey_added');
}

async function removePasskey(pages: AccountPages, ctx: Context): Promise<void> {
  const recent = await recentUser(pages, ctx);
  if (!recent) return;
  const { principal, form } = recent;
  const credentialId = (form.get('credential_id') ?? '').slice(0, 1024);
  await keepASecondFactor(pages, ctx, principal, credentialId);
  await pages.mfa.removePasskey(ctx.state.tenant, principal.userId, credentialId, meta(ctx, principal));
  backToAccount(ctx, 'passkey_removed');
}

export function mountMfaDeviceRoutes(router: Router, pages: AccountPages): void {
  router.post('/mfa/totp', (ctx) => startTotp(pages, ctx));
  router.get('/mfa/totp', (ctx) => showTotp(pages, ctx));
  router.get('/mfa/recovery-codes', (ctx) => showRecoveryCodes(pages, ctx));
  router.post('/mfa/totp/confirm', (ctx) => confirmTotp(pages, ctx));
  router.post('/mfa/totp/remove', (ctx) => removeTotp(pages, ctx));
  router.post('/mfa/recovery-codes', (ctx) => newRecoveryCodes(pages, ctx));
  router.post('/mfa/passkeys', (ctx) => addPasskey(pages, ctx));
  router.post('/mfa/passkeys/remove', (ctx) => removePasskey(pages, ctx));
}
