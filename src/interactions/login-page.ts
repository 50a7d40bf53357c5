/**
 * The login page of a sign-in (`/interaction/:uid` at its login prompt) and its form
 * (`POST /interaction/:uid/login`): rate limits, home-realm discovery, the password, then a
 * second factor when one is due (mfa-steps.ts).
 */
import type { Context } from 'koa';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { LoginRateLimits, tooManyAttemptsMessage, type LoginRejection } from '../security/rate-limit-login.ts';
import { authenticate, type Settle } from '../accounts/sign-in.ts';
import { AppError } from '../core/errors.ts';
import { CONSOLE_CLIENT_ID } from '../oidc/console-client.ts';
import { renderTenantPage } from '../web/page.ts';
import { loginPageLinks } from './account-page-kit.ts';
import { federationButtons, routeToHomeRealm } from './federation-flow-routes.ts';
import { interactionCsrfToken, loadInteraction, readInteractionForm, uiLocales, type Interaction } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { finishFirstFactor, passkeySignIn, startSecondFactor } from './mfa-steps.ts';

/** A message on the login form: a translation key and its placeholders. */
export interface LoginMessage {
  key: string;
  vars?: Record<string, string | number>;
}

/** The name of the application asking, as the consent and login pages show it. */
export async function clientName(runtime: ProviderRuntime, clientId: unknown): Promise<string> {
  if (clientId === CONSOLE_CLIENT_ID) return ''; // signing in to the tenant's own pages
  const client = typeof clientId === 'string' ? await runtime.provider.Client.find(clientId) : undefined;
  return client?.clientName ?? (typeof clientId === 'string' ? clientId : '');
}

export async function renderLogin(deps: InteractionDeps, ctx: Context, runtime: ProviderRuntime, details: Interaction, extra: { error?: LoginMessage; email?: string } = {}): Promise<void> {
  const clientLabel = await clientName(runtime, details.params.client_id);
  const federation = await federationButtons(deps, ctx.state.tenant, details.uid);
  const social = deps.socialSignIn.buttons(ctx.state.tenant, details.uid);
  const passkey = await passkeySignIn(deps, ctx, details.uid);
  await renderTenantPage(
    ctx,
    'interactions/login',
    (t) => ({
      title: 'login.title',
      clientName: clientLabel,
      action: `/interaction/${details.uid}/login`,
      abortAction: `/interaction/${details.uid}/abort`,
      csrf: interactionCsrfToken(runtime, details.uid),
      error: extra.error ? t(extra.error.key, extra.error.vars) : '',
      email: extra.email ?? (typeof details.params.login_hint === 'string' ? details.params.login_hint : ''),
      federation,
      social,
      passkey,
      accountLinks: loginPageLinks(ctx.state.tenant, details.uid),
    }),
    uiLocales(details),
  );
}

/** A sign-in refused by a rate limit: 429, Retry-After and the form with a clear message; no password is checked. */
async function refuseLimitedLogin(deps: InteractionDeps, ctx: Context, runtime: ProviderRuntime, details: Interaction, limited: LoginRejection, email: string): Promise<void> {
  if (limited.audit) {
    const reason = { client_id: details.params.client_id, limit: limited.limit, retry_after: limited.retryAfterSeconds };
    await deps.audit.record({ action: 'user.sign_in_rate_limited', outcome: 'failure', actor: null, target: email.toLowerCase() || null, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: reason });
  }
  ctx.status = 429;
  ctx.set('Retry-After', String(limited.retryAfterSeconds));
  return renderLogin(deps, ctx, runtime, details, { error: tooManyAttemptsMessage(limited.retryAfterSeconds), email });
}

export async function submitLogin(deps: InteractionDeps, loginLimits: LoginRateLimits, ctx: Context): Promise<void> {
  const tenant = ctx.state.tenant;
  const runtime = await ctx.state.runtime.provider();
  const form = await readInteractionForm(ctx, runtime);
  const details = await loadInteraction(ctx, runtime);
  if (details.prompt.name !== 'login') throw new AppError('invalid_request', 400, 'this sign-in step is already complete');
  const email = (form.get('email') ?? '').trim().slice(0, 320);
  const password = (form.get('password') ?? '').slice(0, 1024);
  const limited = await loginLimits.check(tenant, { ip: ctx.ip, email });
  if (limited) {
    deps.metrics.rateLimitRejections.inc({ tenant: tenant.slug, limit: limited.limit });
    return refuseLimitedLogin(deps, ctx, runtime, details, limited, email);
  }
  // Home-realm discovery: an email of a domain with its own upstream IdP signs in there, no
  // password checked. After the limits: each one writes a login state and an audit row.
  if (await routeToHomeRealm(deps, ctx, details.uid, email)) return;
  const audit = { ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id } };
  // A matching password: the failures cleared, the last sign-in and its audit event in one transaction.
  const settle: Settle = (admit) =>
    deps.audit.together(async () => {
      const admitted = await admit();
      if (admitted) await deps.audit.record({ ...audit, action: 'user.sign_in', actor: admitted.id, target: admitted.id });
      return admitted;
    });
  const user = email && password ? await authenticate(deps.users, email, password, deps.lockout.guard(tenant), settle) : undefined;
  if (!user) {
    deps.metrics.signIn(tenant.slug, 'failure');
    await deps.audit.record({ ...audit, action: 'user.sign_in', outcome: 'failure', actor: null, target: email.toLowerCase() });
    ctx.status = 401;
    return renderLogin(deps, ctx, runtime, details, { error: { key: 'login.wrong_credentials' }, email });
  }
  deps.metrics.signIn(tenant.slug, 'success');
  await loginLimits.succeeded(tenant, email);
  // Second factor: enrolled, required by policy or asked for by acr_values → /interaction/:uid/mfa.
  if (await startSecondFactor(deps, ctx, runtime, details, user)) return;
  await finishFirstFactor(ctx, runtime, user.id, ['pwd']);
}
