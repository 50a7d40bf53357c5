/**
 * Choosing a password without being signed in:
 *   /password/forgot               ask for a reset link (same answer for every address)
 *   /password/reset?token=         choose a new password
 *   /invitation?token=             an invited user chooses a password
 * Links in mail never act on GET: a mail scanner that follows them must not use up a link.
 */
import { AsyncResource } from 'node:async_hooks';
import Router from '@koa/router';
import type { Context } from 'koa';
import { readForm } from '../web/body.ts';
import { pageLocals, renderTenantPage } from '../web/page.ts';
import type { Problem } from '../account-recovery/account-recovery.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { invalidLink, mailLimited, problemMessages, requestMeta, UID } from './account-page-kit.ts';

type ResetDeps = Pick<InteractionDeps, 'recovery' | 'csrf' | 'rateLimiter'>;

const interactionParam = (value: unknown) => (typeof value === 'string' && UID.test(value) ? value : '');

async function renderForgot(deps: ResetDeps, ctx: Context, values: { email?: string; interaction?: string; error?: string } = {}): Promise<void> {
  await renderTenantPage(ctx, 'interactions/reset-forgot', {
    title: 'reset.forgot_title',
    csrf: deps.csrf.token(ctx, 'password-forgot'),
    email: values.email ?? '',
    interaction: values.interaction ?? '',
    backUrl: values.interaction ? `/interaction/${encodeURIComponent(values.interaction)}` : '',
    error: values.error ?? '',
  });
}

async function submitForgot(deps: ResetDeps, ctx: Context): Promise<void> {
  const form = await readForm(ctx);
  deps.csrf.verify(ctx, 'password-forgot', form);
  const email = (form.get('email') ?? '').trim().slice(0, 320);
  const interaction = interactionParam(form.get('interaction'));
  const retryAfter = await mailLimited(ctx, deps.rateLimiter, email);
  if (retryAfter !== undefined) {
    ctx.status = 429;
    ctx.set('Retry-After', String(retryAfter));
    const { t } = pageLocals({ tenant: ctx.state.tenant, acceptLanguage: ctx.get('accept-language') });
    return renderForgot(deps, ctx, { email, interaction, error: t('reset.too_many_requests') });
  }
  if (email) {
    // Only once the answer is out: the work for a known address (token, mail) must not
    // share the CPU with rendering it, or the answer's timing would tell.
    const tenant = ctx.state.tenant;
    const asked = requestMeta(ctx);
    ctx.res.once('close', AsyncResource.bind(() => deps.recovery.requestPasswordReset(tenant, email, asked)));
  }
  await renderTenantPage(ctx, 'interactions/reset-forgot-sent', { title: 'reset.sent_title', backUrl: interaction ? `/interaction/${encodeURIComponent(interaction)}` : '/account' });
}

/** The two links that choose a password: a reset, and an invitation. */
const LINKS = {
  reset: { path: '/password/reset', purpose: 'password_reset', title: 'reset.reset_title' },
  invitation: { path: '/invitation', purpose: 'invitation', title: 'reset.invitation_title' },
} as const;
type Mode = keyof typeof LINKS;

function renderSetPassword(deps: ResetDeps, ctx: Context, mode: Mode, token: string, email: string, problems: Problem[] = []): Promise<void> {
  const link = LINKS[mode];
  return renderTenantPage(ctx, 'interactions/reset-password', (t) => ({ title: link.title, mode, action: link.path, token, email, csrf: deps.csrf.token(ctx, `password-set:${mode}`), errors: problemMessages(t, problems) }));
}

async function showSetPassword(deps: ResetDeps, mode: Mode, ctx: Context): Promise<void> {
  const pending = await deps.recovery.tokens.peek(LINKS[mode].purpose, ctx.query.token);
  if (!pending) return invalidLink(ctx);
  await renderSetPassword(deps, ctx, mode, String(ctx.query.token), pending.email);
}

async function submitSetPassword(deps: ResetDeps, mode: Mode, ctx: Context): Promise<void> {
  const form = await readForm(ctx);
  deps.csrf.verify(ctx, `password-set:${mode}`, form);
  const token = form.get('token') ?? '';
  const password = (form.get('password') ?? '').slice(0, 1025);
  const confirmation = (form.get('password_confirmation') ?? '').slice(0, 1025);
  const outcome = await deps.recovery.setPasswordByLink(ctx.state.tenant, LINKS[mode].purpose, token, password, confirmation, requestMeta(ctx));
  if (outcome.kind === 'invalid') return invalidLink(ctx);
  if (outcome.kind === 'rejected') {
    ctx.status = 400;
    return renderSetPassword(deps, ctx, mode, token, outcome.email, outcome.problems);
  }
  await renderTenantPage(ctx, 'interactions/reset-done', { title: mode === 'reset' ? 'reset.done_title' : 'reset.invitation_done_title', continueUrl: '/account' });
}

export function resetRoutes(deps: ResetDeps): Router {
  const router = new Router();
  router.get('/password/forgot', (ctx) => renderForgot(deps, ctx, { interaction: interactionParam(ctx.query.interaction) }));
  router.post('/password/forgot', (ctx) => submitForgot(deps, ctx));
  for (const mode of Object.keys(LINKS) as Mode[]) {
    router.get(LINKS[mode].path, (ctx) => showSetPassword(deps, mode, ctx));
    router.post(LINKS[mode].path, (ctx) => submitSetPassword(deps, mode, ctx));
  }
  return router;
}
