/**
 * The second factor as seen from the other sign-in pages: after a first factor (password,
 * signup, passkey without user verification) `startSecondFactor` parks the sign-in in the
 * interaction (`result.atrium_mfa`, stored server-side by oidc-provider and bound to the
 * browser by its interaction cookie) and sends the browser to /interaction/:uid/mfa
 * (mfa-routes.ts); only once a second factor is verified does `finishSignIn` give the
 * login result (accountId, amr, acr) to the Provider. Whether one is due is decided in
 * mfa/second-factor.ts.
 */
import type { Context } from 'koa';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { acrFor } from '../mfa/mfa-policy.ts';
import { MFA_ATTEMPTS, secondFactorDue, type PendingMfa } from '../mfa/second-factor.ts';
import { STEP_UP_REASON } from '../mfa/step-up.ts';
import type { Interaction } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';

/** What a passkey challenge of a sign-in is bound to: its interaction (webauthn.ts). */
export const passkeyBinding = (uid: string) => `interaction:${uid}`;

type SignInUser = { id: string; roles: readonly string[] };

/** Keeps the sign-in in the interaction and sends the browser to the MFA page. */
async function park(ctx: Context, runtime: ProviderRuntime, details: Interaction, pending: PendingMfa): Promise<void> {
  await runtime.provider.interactionResult(ctx.req, ctx.res, { atrium_mfa: pending }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(`/interaction/${encodeURIComponent(details.uid)}/mfa`);
}

/**
 * Called once the first factor is verified. When a second factor is due, parks the sign-in
 * and sends the browser to the MFA page: true. Otherwise false, and the caller finishes the
 * sign-in with the first factor alone.
 */
export async function startSecondFactor(deps: Pick<InteractionDeps, 'mfa'>, ctx: Context, runtime: ProviderRuntime, details: Interaction, user: SignInUser, firstAmr: string[] = ['pwd']): Promise<boolean> {
  if (!(await secondFactorDue(deps.mfa, ctx.state.tenant, user, details.params))) return false;
  await park(ctx, runtime, details, { accountId: user.id, amr: firstAmr });
  return true;
}

/**
 * Step-up at GET /interaction/:uid: the client asked for the MFA acr and the browser's
 * session has a lower one. The signed-in user goes straight to the second factor.
 */
export async function stepUpIfAsked(deps: Pick<InteractionDeps, 'users'>, ctx: Context, runtime: ProviderRuntime, details: Interaction): Promise<boolean> {
  const accountId = details.session?.accountId;
  if (details.prompt.name !== 'login' || !details.prompt.reasons.includes(STEP_UP_REASON) || !accountId) return false;
  // Other reasons (max_age, prompt=login, a different login_hint) need the password again.
  if (details.prompt.reasons.some((r) => r !== STEP_UP_REASON)) return false;
  const user = await deps.users.findById(accountId);
  if (!user || user.status !== 'active') return false;
  const firstAmr = (details.session as { amr?: string[] }).amr ?? ['pwd'];
  await park(ctx, runtime, details, { accountId, amr: firstAmr });
  return true;
}

/** The login page's "Sign in with a passkey" button: its WebAuthn options and form action, when the tenant allows passkeys. */
export async function passkeySignIn(deps: Pick<InteractionDeps, 'mfa'>, ctx: Context, uid: string): Promise<{ options: string; action: string } | undefined> {
  const tenant = ctx.state.tenant;
  if (!ctx.state.runtime.mfa.webauthnEnabled) return undefined;
  const options = await deps.mfa.passkeyAuthenticationOptions(tenant, passkeyBinding(uid));
  return { options: JSON.stringify(options), action: `/interaction/${encodeURIComponent(uid)}/passkey` };
}

/** Gives the Provider the login result of a sign-in whose factors are all verified, and follows it. */
export async function finishSignIn(deps: Pick<InteractionDeps, 'audit' | 'rateLimiter'>, ctx: Context, runtime: ProviderRuntime, details: Interaction, accountId: string, amr: string[], method: string): Promise<void> {
  const unique = [...new Set(amr)];
  const acr = acrFor(unique);
  await deps.audit.record({ action: 'user.sign_in.second_factor', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method, amr: unique, acr } });
  await deps.rateLimiter.reset({ tenantId: ctx.state.tenant.id, subject: accountId }, MFA_ATTEMPTS);
  const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { login: { accountId, amr: unique, acr } }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(redirectTo);
}

/** Finishes a sign-in with its first factor alone (no second factor due): `acr` single-factor. */
export async function finishFirstFactor(ctx: Context, runtime: ProviderRuntime, accountId: string, amr: string[]): Promise<void> {
  const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { login: { accountId, amr, acr: acrFor(amr) } }, { mergeWithLastSubmission: false });
  ctx.status = 303;
  ctx.redirect(redirectTo);
}
