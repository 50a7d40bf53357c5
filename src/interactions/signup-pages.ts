/**
 * Signup, inside the sign-in it came from, and the link that verifies its email:
 *   /interaction/:uid/signup       the signup form
 *   /signup/verify?token=          confirm the email of a signup (GET shows a button, POST uses the link)
 * Links in mail never act on GET: a mail scanner that follows them must not verify an address.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { readForm } from '../web/body.ts';
import { AppError } from '../core/errors.ts';
import { renderTenantPage } from '../web/page.ts';
import { signupPolicy, type Problem } from '../account-recovery/account-recovery.ts';
import { interactionCsrfToken, interactionExpired, loadInteraction, readInteractionForm, uiLocales, type Interaction } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { invalidLink, mailLimited, problemMessages, requestMeta, UID } from './account-page-kit.ts';

async function signupInteraction(deps: InteractionDeps, ctx: Context): Promise<{ runtime: ProviderRuntime; details: Interaction }> {
  if (signupPolicy(ctx.state.tenant).mode !== 'open') throw new AppError('not_found', 404, 'no such resource');
  const runtime = await ctx.state.runtime.provider();
  const details = await loadInteraction(ctx, runtime);
  if (details.prompt.name !== 'login') throw interactionExpired();
  return { runtime, details };
}

async function renderSignup(ctx: Context, runtime: ProviderRuntime, details: Interaction, values: { email?: string; name?: string; problems?: Problem[] } = {}): Promise<void> {
  await renderTenantPage(
    ctx,
    'interactions/signup',
    (t) => ({
      title: 'signup.title',
      action: `/interaction/${encodeURIComponent(details.uid)}/signup`,
      backUrl: `/interaction/${encodeURIComponent(details.uid)}`,
      csrf: interactionCsrfToken(runtime, details.uid),
      email: values.email ?? '',
      name: values.name ?? '',
      errors: problemMessages(t, values.problems ?? []),
    }),
    uiLocales(details),
  );
}

async function showSignup(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details } = await signupInteraction(deps, ctx);
  await renderSignup(ctx, runtime, details);
}

async function submitSignup(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details } = await signupInteraction(deps, ctx);
  const form = await readInteractionForm(ctx, runtime, details.uid);
  const email = (form.get('email') ?? '').trim().slice(0, 320);
  const name = (form.get('name') ?? '').trim().slice(0, 200);
  const password = (form.get('password') ?? '').slice(0, 1025);
  const retryAfter = await mailLimited(ctx, deps.rateLimiter, email);
  if (retryAfter !== undefined) {
    ctx.status = 429;
    ctx.set('Retry-After', String(retryAfter));
    return renderSignup(ctx, runtime, details, { email, name, problems: [{ key: 'reset.too_many_requests' }] });
  }
  const outcome = await deps.recovery.signup(ctx.state.tenant, { email, name, password, interactionUid: details.uid }, requestMeta(ctx, uiLocales(details)));
  if (outcome.kind === 'rejected') {
    ctx.status = 400;
    return renderSignup(ctx, runtime, details, { email, name, problems: outcome.problems });
  }
  // One page whatever happened (a link sent, an account created, an address already
  // registered whose owner is mailed instead): account-recovery.ts `signup`.
  await renderTenantPage(ctx, 'interactions/signup-sent', { title: 'signup.sent_title', email, backUrl: `/interaction/${encodeURIComponent(details.uid)}` }, uiLocales(details));
}

/** Where "continue" leads after a link: back into the sign-in it started from while that still exists, else the account page. */
async function continueUrl(deps: InteractionDeps, ctx: Context, uid: unknown): Promise<string> {
  if (typeof uid !== 'string' || !UID.test(uid)) return '/account';
  const runtime = await ctx.state.runtime.provider();
  const interaction = await runtime.provider.Interaction.find(uid).catch(() => undefined);
  return interaction ? `/interaction/${encodeURIComponent(uid)}` : '/account';
}

async function showVerify(deps: InteractionDeps, ctx: Context): Promise<void> {
  const pending = await deps.recovery.tokens.peek('signup', ctx.query.token);
  if (!pending) return invalidLink(ctx);
  await renderTenantPage(ctx, 'interactions/signup-verify', { title: 'signup.verify_title', email: pending.email, token: String(ctx.query.token), csrf: deps.csrf.token(ctx, 'signup-verify') });
}

async function submitVerify(deps: InteractionDeps, ctx: Context): Promise<void> {
  const form = await readForm(ctx);
  deps.csrf.verify(ctx, 'signup-verify', form);
  const outcome = await deps.recovery.verifySignup(ctx.state.tenant, form.get('token'), requestMeta(ctx));
  if (outcome.kind === 'invalid') return invalidLink(ctx);
  await renderTenantPage(ctx, 'interactions/signup-verified', { title: 'signup.verified_title', continueUrl: await continueUrl(deps, ctx, outcome.interactionUid) });
}

export function signupRoutes(deps: InteractionDeps): Router {
  const router = new Router();
  router.get('/interaction/:uid/signup', (ctx) => showSignup(deps, ctx));
  router.post('/interaction/:uid/signup', (ctx) => submitSignup(deps, ctx));
  router.get('/signup/verify', (ctx) => showVerify(deps, ctx));
  router.post('/signup/verify', (ctx) => submitVerify(deps, ctx));
  return router;
}
