/**
 * The login and consent pages oidc-provider sends the browser to (`/interaction/:uid`).
 * Every form carries a CSRF token; results go back to the Provider by redirect.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';
import type { TenantRuntime } from '../oidc/provider-factory.ts';
import type { UserStore } from '../accounts/user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Metrics } from '../core/metrics.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import { LoginRateLimits, tooManyAttemptsMessage, type LoginRejection } from '../security/rate-limit-login.ts';
import { authenticate } from '../accounts/sign-in.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import { loginPageLinks } from './account-pages.ts';
import { interactionCsrfToken, loadInteraction, readInteractionForm, uiLocales, type Interaction } from './interaction-context.ts';
import { AppError } from '../core/errors.ts';
import { renderTenantPage } from '../web/page.ts';
import { federationButtons, routeToHomeRealm } from './federation-login-hooks.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/console-client.ts';
import { passkeySignIn, PASSWORD_ACR, startSecondFactor, stepUpIfAsked } from './mfa-login-hooks.ts';


export interface InteractionDeps {
  users: UserStore;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  metrics: Pick<Metrics, 'signIn' | 'rateLimitRejections'>;
  /** The runtime of the tenant resolved for this request. */
  runtimeFor: (ctx: Context) => Promise<TenantRuntime>;
  /** Account lockout (accounts/lockout.ts); without it, rate limits alone bound guessing. */
  lockout?: Pick<LoginLockout, 'guard'>;
}


async function clientName(runtime: TenantRuntime, clientId: unknown): Promise<string> {
  if (clientId === CONSOLE_CLIENT_ID) return ''; // signing in to the tenant's own pages
  const client = typeof clientId === 'string' ? await runtime.provider.Client.find(clientId) : undefined;
  return client?.clientName ?? (typeof clientId === 'string' ? clientId : '');
}

/** A message on the login form: a translation key and its placeholders. */
export interface LoginMessage {
  key: string;
  vars?: Record<string, string | number>;
}

async function renderLogin(ctx: Context, runtime: TenantRuntime, details: Interaction, extra: { error?: LoginMessage; email?: string } = {}): Promise<void> {
  const clientLabel = await clientName(runtime, details.params.client_id);
  const federation = await federationButtons(ctx, details.uid);
  const passkey = await passkeySignIn(ctx, details.uid);
  await renderTenantPage(
    ctx,
    'login',
    (t) => ({
      title: 'login.title',
      clientName: clientLabel,
      action: `/interaction/${details.uid}/login`,
      abortAction: `/interaction/${details.uid}/abort`,
      csrf: interactionCsrfToken(runtime, details.uid),
      error: extra.error ? t(extra.error.key, extra.error.vars) : '',
      email: extra.email ?? (typeof details.params.login_hint === 'string' ? details.params.login_hint : ''),
      federation,
      passkey,
      accountLinks: loginPageLinks(ctx.state.tenant, details.uid),
    }),
    uiLocales(details),
  );
}


/** A sign-in refused by a rate limit: 429, Retry-After and the form with a clear message; no password is checked. */
async function refuseLimitedLogin(ctx: Context, runtime: TenantRuntime, details: Interaction, audit: AuditLog, limited: LoginRejection, email: string): Promise<void> {
  if (limited.audit) {
    const reason = { client_id: details.params.client_id, limit: limited.limit, retry_after: limited.retryAfterSeconds };
    await audit.record({ action: 'user.sign_in_rate_limited', outcome: 'failure', actor: null, target: email.toLowerCase() || null, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: reason });
  }
  ctx.status = 429;
  ctx.set('Retry-After', String(limited.retryAfterSeconds));
  return renderLogin(ctx, runtime, details, { error: tooManyAttemptsMessage(limited.retryAfterSeconds), email });
}

export function interactionRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  const loginLimits = new LoginRateLimits(deps.rateLimiter);

  router.get('/', async function showInteraction(ctx) {
    const runtime = await deps.runtimeFor(ctx);
    const details = await loadInteraction(ctx, runtime);
    // Step-up (src/mfa): a client asking for the MFA acr over a password-only session gets a second-factor page.
    if (await stepUpIfAsked(ctx, runtime, details)) return;
    if (details.prompt.name === 'login') return renderLogin(ctx, runtime, details);
    if (details.prompt.name !== 'consent') throw new AppError('unsupported_prompt', 400, `unsupported prompt ${details.prompt.name}`);
    const account = details.session?.accountId ? await deps.users.findById(details.session.accountId) : undefined;
    const promptDetails = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
    const requested = [...(promptDetails.missingOIDCScope ?? []), ...Object.values(promptDetails.missingResourceScopes ?? {}).flat()];
    await renderTenantPage(
      ctx,
      'consent',
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
  });

  // A reload after a failed sign-in (the form re-rendered in answer to the POST) lands here.
  router.get('/login', async function backToInteraction(ctx) {
    ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}`);
  });

  router.post('/login', async function submitLogin(ctx) {
    const runtime = await deps.runtimeFor(ctx);
    const form = await readInteractionForm(ctx, runtime);
    const details = await loadInteraction(ctx, runtime);
    if (details.prompt.name !== 'login') throw new AppError('invalid_request', 400, 'this sign-in step is already complete');
    const email = (form.get('email') ?? '').trim().slice(0, 320);
    const password = (form.get('password') ?? '').slice(0, 1024);
    const tenant = ctx.state.tenant;
    const limited = await loginLimits.check(tenant, { ip: ctx.ip, email });
    if (limited) {
      deps.metrics.rateLimitRejections.inc({ tenant: tenant.slug, limit: limited.limit });
      return refuseLimitedLogin(ctx, runtime, details, deps.audit, limited, email);
    }
    // Home-realm discovery: an email of a domain with its own upstream IdP signs in there, no
    // password checked. After the limits: each one writes a login state and an audit row.
    if (await routeToHomeRealm(ctx, details.uid, email)) return;
    const user = email && password ? await authenticate(deps.users, email, password, deps.lockout?.guard(tenant)) : undefined;
    const audit = { ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id } };
    if (!user) {
      deps.metrics.signIn((ctx.state.tenant).slug, 'failure');
      await deps.audit.record({ ...audit, action: 'user.sign_in', outcome: 'failure', actor: null, target: email.toLowerCase() });
      ctx.status = 401;
      return renderLogin(ctx, runtime, details, { error: { key: 'login.wrong_credentials' }, email });
    }
    deps.metrics.signIn((ctx.state.tenant).slug, 'success');
    await deps.audit.record({ ...audit, action: 'user.sign_in', actor: user.id, target: user.id });
    await loginLimits.succeeded(tenant, email);
    // Second factor (src/mfa): enrolled, required by policy or asked for by acr_values → /interaction/:uid/mfa.
    if (await startSecondFactor(ctx, runtime, details, user)) return;
    const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { login: { accountId: user.id, amr: ['pwd'], acr: PASSWORD_ACR } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  router.post('/confirm', async function submitConsent(ctx) {
    const runtime = await deps.runtimeFor(ctx);
    await readInteractionForm(ctx, runtime);
    const details = await loadInteraction(ctx, runtime);
    if (details.prompt.name !== 'consent' || !details.session?.accountId) throw new AppError('invalid_request', 400, 'there is nothing to consent to');
    const { provider } = runtime;
    const promptDetails = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
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
  });

  router.post('/abort', async function abortInteraction(ctx) {
    const runtime = await deps.runtimeFor(ctx);
    await readInteractionForm(ctx, runtime);
    await loadInteraction(ctx, runtime);
    const redirectTo = await runtime.provider.interactionResult(
      ctx.req,
      ctx.res,
      { error: 'access_denied', error_description: 'the user cancelled the request' },
      { mergeWithLastSubmission: false },
    );
    ctx.status = 303;
    ctx.redirect(redirectTo);
  });

  return router;
}

export type { KoaContextWithOIDC };
