/**
 * /account/sessions: the user signs one of their own sessions (a device, an app's sign-in) out.
 * Their current sign-in, when it came from an upstream, is signed out there too.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../core/errors.ts';
import { backToAccount, meta, requireUser, type AccountPages } from './account-page.ts';

async function revokeSession(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.consoleAuth.readForm(ctx, principal);
  const id = (form.get('session') ?? '').slice(0, 200);
  // The browser's own sign-in: signing it out is signing out, through its upstream if it came from one.
  const upstream = principal.oidcSessionUid && id === `signin:${principal.oidcSessionUid}` ? await pages.consoleAuth.leaveUpstream(ctx, principal) : undefined;
  if (!(await pages.userSessions.revoke(principal.userId, id, meta(ctx, principal)))) throw new AppError('not_found', 404, 'No such session: it may have ended already.', { messageKey: 'errors.no_such_session' });
  if (upstream) {
    ctx.status = 303;
    return ctx.redirect(upstream);
  }
  backToAccount(ctx, 'session_revoked');
}

/**
 * "Sign out everywhere": every sign-in and console session of the user ends (their relying
 * parties get logout tokens); this browser's sign-in, when it came from an upstream, is
 * signed out there too. The other devices' upstream sessions cannot be: no browser of theirs is here.
 */
async function signOutEverywhere(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  await pages.consoleAuth.readForm(ctx, principal);
  const upstream = await pages.consoleAuth.leaveUpstream(ctx, principal);
  await pages.userSessions.revokeAllSessions(principal.userId, meta(ctx, principal));
  ctx.status = 303;
  ctx.redirect(upstream ?? '/account/signed-out');
}

export function mountSessionRoutes(router: Router, pages: AccountPages): void {
  router.post('/sessions/revoke', (ctx) => revokeSession(pages, ctx));
  router.post('/sessions/revoke-all', (ctx) => signOutEverywhere(pages, ctx));
}
