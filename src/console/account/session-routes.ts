/** /account/sessions: the user signs one of their own sessions (a device, an app's sign-in) out. */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../../core/errors.ts';
import { backToAccount, meta, requireUser, type AccountPages } from './account-page.ts';

async function revokeSession(pages: AccountPages, ctx: Context): Promise<void> {
  const principal = requireUser(pages.consoleAuth, ctx);
  if (!principal) return;
  const form = await pages.consoleAuth.readForm(ctx, principal);
  const id = (form.get('session') ?? '').slice(0, 200);
  if (!(await pages.userSessions.revoke(principal.userId, id, meta(ctx, principal)))) throw new AppError('not_found', 404, 'No such session: it may have ended already.', { messageKey: 'errors.no_such_session' });
  backToAccount(ctx, 'session_revoked');
}

export function mountSessionRoutes(router: Router, pages: AccountPages): void {
  router.post('/sessions/revoke', (ctx) => revokeSession(pages, ctx));
}
