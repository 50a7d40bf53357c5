/**
 * The account pages a person reaches without being signed in:
 *   /interaction/:uid/signup       the signup form, inside the sign-in it came from
 *   /signup/verify?token=          confirm the email of a signup (GET shows a button, POST uses the link)
 *   /password/forgot               ask for a reset link (same answer for every address)
 *   /password/reset?token=         choose a new password
 *   /invitation?token=             an invited user chooses a password
 * Links in mail never act on GET: a mail scanner that follows them must not verify an
 * address or use up a link. One middleware, so app.ts mounts it with one line.
 */
import { AsyncResource } from 'node:async_hooks';
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { TenantRuntime } from '../oidc/provider-factory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import { rateLimitRules } from '../security/rate-limit-rules.ts';
import { readForm } from '../web/body.ts';
import { AppError } from '../core/errors.ts';
import { pageLocals, renderTenantPage } from '../web/page.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { Translate } from '../core/i18n.ts';
import { interactionCsrfToken, interactionExpired, loadInteraction, readInteractionForm, uiLocales, type Interaction } from './interaction-context.ts';
import { AccountRecovery, signupPolicy, type Problem, type RequestMeta } from '../account-recovery/account-recovery.ts';
import type { FormCsrf } from '../web/form-csrf.ts';

export interface AccountPagesDeps {
  recovery: AccountRecovery;
  csrf: FormCsrf;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  runtimeFor: (ctx: Context) => Promise<TenantRuntime>;
}


const UID = /^[A-Za-z0-9_-]{1,64}$/;
const tenantOf = (ctx: Context) => ctx.state.tenant;

/** The login page's two links: always "Forgot password?", "Create account" only when the tenant's signup is open. */
export function loginPageLinks(tenant: Pick<Tenant, 'config'>, uid: string): { forgot: string; signup: string } {
  const id = encodeURIComponent(uid);
  return { forgot: `/password/forgot?interaction=${id}`, signup: signupPolicy(tenant).mode === 'open' ? `/interaction/${id}/signup` : '' };
}

function meta(ctx: Context, explicitLocale?: string): RequestMeta {
  const { lang } = pageLocals({ tenant: tenantOf(ctx), acceptLanguage: ctx.get('accept-language'), explicitLocale: explicitLocale ?? (typeof ctx.query.lang === 'string' ? ctx.query.lang : undefined) });
  return { ip: ctx.ip, userAgent: ctx.get('user-agent'), lang };
}

const messages = (t: Translate, problems: Problem[]) => problems.map((p) => t(p.key, p.vars));

/**
 * Requests that send mail are limited per IP (the tenant's sign-in limit) and per address
 * (a few an hour, so nobody is flooded with mail); a refusal is a 429 (with Retry-After)
 * that says nothing about the address.
 */
async function mailLimited(ctx: Context, limiter: RateLimiter, email: string): Promise<number | undefined> {
  const tenant = tenantOf(ctx);
  const perIp = rateLimitRules(tenant).login_per_ip;
  const byIp = await limiter.consume({ tenantId: tenant.id, subject: ctx.ip }, { name: 'account_mail_per_ip', limit: perIp.limit, windowSeconds: perIp.windowSeconds });
  if (!byIp.allowed) return byIp.retryAfterSeconds;
  if (!email) return undefined;
  const byEmail = await limiter.consume({ tenantId: tenant.id, subject: email.toLowerCase() }, { name: 'account_mail_per_email', limit: 5, windowSeconds: 3600 });
  return byEmail.allowed ? undefined : byEmail.retryAfterSeconds;
}

export function accountPages(deps: AccountPagesDeps) {
  const router = new Router();
  const { recovery, csrf } = deps;

  /** Where "continue" leads after a link: back into the sign-in it started from while that still exists, else the account page. */
  async function continueUrl(ctx: Context, uid: unknown): Promise<string> {
    if (typeof uid !== 'string' || !UID.test(uid)) return '/account';
    const runtime = await deps.runtimeFor(ctx);
    const interaction = await runtime.provider.Interaction.find(uid).catch(() => undefined);
    return interaction ? `/interaction/${encodeURIComponent(uid)}` : '/account';
  }

  async function invalidLink(ctx: Context): Promise<void> {
    ctx.status = 400;
    await renderTenantPage(ctx, 'reset-link-invalid', { title: 'reset.invalid_title', forgotUrl: '/password/forgot' });
  }

  // ---- signup, inside the sign-in ----

  async function signupInteraction(ctx: Context): Promise<{ runtime: TenantRuntime; details: Interaction }> {
    if (signupPolicy(tenantOf(ctx)).mode !== 'open') throw new AppError('not_found', 404, 'no such resource');
    const runtime = await deps.runtimeFor(ctx);
    const details = await loadInteraction(ctx, runtime);
    if (details.prompt.name !== 'login') throw interactionExpired();
    return { runtime, details };
  }

  async function renderSignup(ctx: Context, runtime: TenantRuntime, details: Interaction, values: { email?: string; name?: string; problems?: Problem[] } = {}): Promise<void> {
    await renderTenantPage(
      ctx,
      'signup',
      (t) => ({
        title: 'signup.title',
        action: `/interaction/${encodeURIComponent(details.uid)}/signup`,
        backUrl: `/interaction/${encodeURIComponent(details.uid)}`,
        csrf: interactionCsrfToken(runtime, details.uid),
        email: values.email ?? '',
        name: values.name ?? '',
        errors: messages(t, values.problems ?? []),
      }),
      uiLocales(details),
    );
  }

  router.get('/interaction/:uid/signup', async function showSignup(ctx) {
    const { runtime, details } = await signupInteraction(ctx);
    await renderSignup(ctx, runtime, details);
  });

  router.post('/interaction/:uid/signup', async function submitSignup(ctx) {
    const { runtime, details } = await signupInteraction(ctx);
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
    const outcome = await recovery.signup(tenantOf(ctx), { email, name, password, interactionUid: details.uid }, meta(ctx, uiLocales(details)));
    if (outcome.kind === 'rejected') {
      ctx.status = 400;
      return renderSignup(ctx, runtime, details, { email, name, problems: outcome.problems });
    }
    // One page whatever happened (a link sent, an account created, an address already
    // registered whose owner is mailed instead): account-recovery.ts `signup`.
    await renderTenantPage(ctx, 'signup-sent', { title: 'signup.sent_title', email, backUrl: `/interaction/${encodeURIComponent(details.uid)}` }, uiLocales(details));
  });

  // ---- signup verification link ----

  router.get('/signup/verify', async function showVerify(ctx) {
    const pending = await recovery.tokens.peek('signup', ctx.query.token);
    if (!pending) return invalidLink(ctx);
    await renderTenantPage(ctx, 'signup-verify', { title: 'signup.verify_title', email: pending.email, token: String(ctx.query.token), csrf: csrf.token(ctx, 'signup-verify') });
  });

  router.post('/signup/verify', async function submitVerify(ctx) {
    const form = await readForm(ctx);
    csrf.verify(ctx, 'signup-verify', form);
    const outcome = await recovery.verifySignup(tenantOf(ctx), form.get('token'), meta(ctx));
    if (outcome.kind === 'invalid') return invalidLink(ctx);
    await renderTenantPage(ctx, 'signup-verified', { title: 'signup.verified_title', continueUrl: await continueUrl(ctx, outcome.interactionUid) });
  });

  // ---- forgot password ----

  async function renderForgot(ctx: Context, values: { email?: string; interaction?: string; error?: string } = {}): Promise<void> {
    await renderTenantPage(ctx, 'reset-forgot', {
      title: 'reset.forgot_title',
      csrf: csrf.token(ctx, 'password-forgot'),
      email: values.email ?? '',
      interaction: values.interaction ?? '',
      backUrl: values.interaction ? `/interaction/${encodeURIComponent(values.interaction)}` : '',
      error: values.error ?? '',
    });
  }
  const interactionParam = (value: unknown) => (typeof value === 'string' && UID.test(value) ? value : '');

  router.get('/password/forgot', async function showForgot(ctx) {
    await renderForgot(ctx, { interaction: interactionParam(ctx.query.interaction) });
  });

  router.post('/password/forgot', async function submitForgot(ctx) {
    const form = await readForm(ctx);
    csrf.verify(ctx, 'password-forgot', form);
    const email = (form.get('email') ?? '').trim().slice(0, 320);
    const interaction = interactionParam(form.get('interaction'));
    const retryAfter = await mailLimited(ctx, deps.rateLimiter, email);
    if (retryAfter !== undefined) {
      ctx.status = 429;
      ctx.set('Retry-After', String(retryAfter));
      const { t } = pageLocals({ tenant: tenantOf(ctx), acceptLanguage: ctx.get('accept-language') });
      return renderForgot(ctx, { email, interaction, error: t('reset.too_many_requests') });
    }
    if (email) {
      // Only once the answer is out: the work for a known address (token, mail) must not
      // share the CPU with rendering it, or the answer's timing would tell.
      const tenant = tenantOf(ctx);
      const asked = meta(ctx);
      ctx.res.once('close', AsyncResource.bind(() => recovery.requestPasswordReset(tenant, email, asked)));
    }
    await renderTenantPage(ctx, 'reset-forgot-sent', { title: 'reset.sent_title', backUrl: interaction ? `/interaction/${encodeURIComponent(interaction)}` : '/account' });
  });

  // ---- reset and invitation links: choose a password ----

  const LINKS = {
    reset: { path: '/password/reset', purpose: 'password_reset', title: 'reset.reset_title' },
    invitation: { path: '/invitation', purpose: 'invitation', title: 'reset.invitation_title' },
  } as const;

  for (const [mode, link] of Object.entries(LINKS) as [keyof typeof LINKS, (typeof LINKS)[keyof typeof LINKS]][]) {
    const render = (ctx: Context, token: string, email: string, problems: Problem[] = []) =>
      renderTenantPage(ctx, 'reset-password', (t) => ({ title: link.title, mode, action: link.path, token, email, csrf: csrf.token(ctx, `password-set:${mode}`), errors: messages(t, problems) }));

    router.get(link.path, async function showSetPassword(ctx) {
      const pending = await recovery.tokens.peek(link.purpose, ctx.query.token);
      if (!pending) return invalidLink(ctx);
      await render(ctx, String(ctx.query.token), pending.email);
    });

    router.post(link.path, async function submitSetPassword(ctx) {
      const form = await readForm(ctx);
      csrf.verify(ctx, `password-set:${mode}`, form);
      const token = form.get('token') ?? '';
      const outcome = await recovery.setPasswordByLink(tenantOf(ctx), link.purpose, token, (form.get('password') ?? '').slice(0, 1025), (form.get('password_confirmation') ?? '').slice(0, 1025), meta(ctx));
      if (outcome.kind === 'invalid') return invalidLink(ctx);
      if (outcome.kind === 'rejected') {
        ctx.status = 400;
        return render(ctx, token, outcome.email, outcome.problems);
      }
      await renderTenantPage(ctx, 'reset-done', { title: mode === 'reset' ? 'reset.done_title' : 'reset.invitation_done_title', continueUrl: '/account' });
    });
  }

  const routes = router.routes();
  return function accountRecoveryPages(ctx: Context, next: Next) {
    const p = ctx.path;
    const mine = p === '/signup/verify' || p === '/password/forgot' || p === '/password/reset' || p === '/invitation' || (p.startsWith('/interaction/') && p.endsWith('/signup'));
    // @koa/router types its context as a RouterContext; it is this same object at run time.
    return mine ? routes(ctx as Parameters<typeof routes>[0], next) : next();
  };
}
