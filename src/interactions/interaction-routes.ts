/**
 * The pages oidc-provider sends the browser to (`/interaction/:uid`): the login page
 * (login-page.ts), consent, and cancelling. Every form carries a CSRF token; results go
 * back to the Provider by redirect.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { LoginRateLimits } from '../security/rate-limit-login.ts';
import { AppError } from '../core/errors.ts';
import { renderTenantPage } from '../web/page.ts';
import { readAheadAccount } from '../oidc/sign-in-read-ahead.ts';
import { interactionCsrfToken, loadInteraction, readInteractionForm, uiLocales } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { clientName, renderLogin, submitLogin } from './login-page.ts';
import { stepUpIfAsked } from './mfa-steps.ts';

interface ConsentPrompt {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

async function showInteraction(deps: InteractionDeps, ctx: Context): Promise<void> {
  const runtime = await ctx.state.runtime.provider();
  const details = await loadInteraction(ctx, runtime);
  // Step-up (src/mfa): a client asking for the MFA acr over a password-only session gets a second-factor page.
  if (await stepUpIfAsked(deps, ctx, runtime, details)) return;
  if (details.prompt.name === 'login') return renderLogin(deps, ctx, runtime, details);
  if (details.prompt.name !== 'consent') throw new AppError('unsupported_prompt', 400, `unsupported prompt ${details.prompt.name}`);
  const accountId = details.session?.accountId;
  // Read with the interaction (oidc/sign-in-read-ahead.ts).
  const account = accountId ? await readAheadAccount(accountId, () => deps.users.findById(accountId)) : undefined;
  const promptDetails = details.prompt.details as ConsentPrompt;
  const requested = [...(promptDetails.missingOIDCScope ?? []), ...Object.values(promptDetails.missingResourceScopes ?? {}).flat()];
  await renderTenantPage(
    ctx,
    'interactions/consent',
    {
      title: 'consent.title',
      clientName: await clientName(runtime, details.params.client_id),
      scopes: requested,
      accountEmail: account?.email ?? '',
      action: `/interaction/${details.uid}/confirm`,
      abortAction: `/interaction/${details.uid}/abort`,
      csrf: interactionCsrfToken(runtime, details.uid),
    },
    uiLocales(details),
  );
}

async function submitConsent(deps: InteractionDeps, ctx: Context): Promise<void> {
  const runtime = await ctx.state.runtime.provider();
  await readInteractionForm(ctx, runtime);
  const details = await loadInteraction(ctx, runtime);
  if (details.prompt.name !== 'consent' || !details.session?.accountId) throw new AppError('invalid_request', 400, 'there is nothing to consent to');
  const { provider } = runtime;
  const promptDetails = details.prompt.details as ConsentPrompt;
  const grant = details.grantId
    ? await provider.Grant.find(details.grantId)
    : new provider.Grant({ accountId: details.session.accountId, clientId: String(details.params.client_id) });
  if (!grant) throw new AppError('interaction_expired', 400, 'This sign-in request has expired. Go back to the application and start again.', { messageKey: 'errors.sign_in_expired' });
  if (promptDetails.missingOIDCScope) grant.addOIDCScope(promptDetails.missingOIDCScope.join(' '));
  if (promptDetails.missingOIDCClaims) grant.addOIDCClaims(promptDetails.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(promptDetails.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  const grantId = await grant.save();
  await deps.audit.record({ action: 'user.consent', actor: details.session.accountId, target: String(details.params.client_id), ip: ctx.ip, userAgent: ctx.get('user-agent') });
  const redirectTo = await provider.interactionResult(ctx.req, ctx.res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  ctx.status = 303;
  ctx.redirect(redirectTo);
}

async function abortInteraction(deps: InteractionDeps, ctx: Context): Promise<void> {
  const runtime = await ctx.state.runtime.provider();
  await readInteractionForm(ctx, runtime);
  await loadInteraction(ctx, runtime);
  const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { error: 'access_denied', error_description: 'the user cancelled the request' }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(redirectTo);
}

export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const loginLimits = new LoginRateLimits(deps.rateLimiter);
  // The interaction and session are read once per page, and what oidc-provider writes is committed in one transaction.
  router.use(async function signInWritesTogether(ctx, next) {
    const runtime = await ctx.state.runtime.provider();
    return runtime.writesTogether(next, ctx.params.uid ?? '');
  });
  router.get('/', (ctx) => showInteraction(deps, ctx));
  // A reload after a failed sign-in (the form re-rendered in answer to the POST) lands here.
  router.get('/login', (ctx) => ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}`));
  router.post('/login', (ctx) => submitLogin(deps, loginLimits, ctx));
  router.post('/confirm', (ctx) => submitConsent(deps, ctx));
  router.post('/abort', (ctx) => abortInteraction(deps, ctx));
  return router;
}
