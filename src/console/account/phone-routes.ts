/**
 * The user's phone number on /account, offered while the tenant has SMS on
 * (`notifications.sms`): type a number, get a code by text message, type it back; the
 * verified number then receives the tenant's security alerts by SMS (sms/sms-alerts.ts).
 * Adding a number needs a recent authentication, like any change of where alerts go.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../core/errors.ts';
import { backToAccount, renderHome, requireUser, type AccountPages } from './account-page.ts';

/** A refusal the page can show in place (a bad number, a wrong code, the provider down) instead of an error page. */
async function orShown(pages: AccountPages, ctx: Context, principal: Parameters<typeof renderHome>[2], work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof AppError) || !err.messageKey || (err.status >= 500 && err.status !== 503)) throw err;
    for (const [name, value] of Object.entries(err.headers)) ctx.set(name, value);
    await renderHome(pages, ctx, principal, { error: err.messageKey, status: err.status });
  }
}

async function startVerification(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.recentForm(ctx, principal);
  if (!form) return;
  await orShown(pages, ctx, principal, async () => {
    await pages.phoneVerification.start(ctx.state.tenant, principal.userId, (form.get('phone') ?? '').slice(0, 64));
    backToAccount(ctx, 'phone_code_sent');
  });
}

async function confirmCode(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.consoleAuth.readForm(ctx, principal);
  const result = await pages.phoneVerification.confirm(principal.userId, (form.get('code') ?? '').slice(0, 32));
  if (result === 'verified') return backToAccount(ctx, 'phone_verified');
  await renderHome(pages, ctx, principal, { error: `account.phone_code_${result}`, status: 400 });
}

async function removePhone(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  await pages.consoleAuth.readForm(ctx, principal);
  await pages.phoneVerification.remove(principal.userId);
  backToAccount(ctx, 'phone_removed');
}

export function mountPhoneRoutes(router: Router, pages: AccountPages): void {
  router.post('/phone', (ctx) => startVerification(pages, ctx));
  router.post('/phone/confirm', (ctx) => confirmCode(pages, ctx));
  router.post('/phone/remove', (ctx) => removePhone(pages, ctx));
}
