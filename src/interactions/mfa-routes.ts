/**
 * The second-factor step of a sign-in (`/interaction/:uid/mfa`) and passwordless sign-in
 * with a passkey (`/interaction/:uid/passkey`). The sign-in waits, parked in the interaction
 * (mfa-steps.ts), until a second factor is verified; a user whom the policy or the client's
 * `acr_values` require to use MFA and who has none enrols here before it completes.
 */
import Router from '@koa/router';
import type { Context } from 'koa';
import { AppError } from '../core/errors.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { MfaPolicy } from '../mfa/mfa-policy.ts';
import { MFA_ATTEMPTS, usableFactors, type PendingMfa } from '../mfa/second-factor.ts';
import { parseCredentialResponse } from '../mfa/webauthn.ts';
import { loadInteraction, readInteractionForm, type Interaction } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { renderMfaPage } from './mfa-page.ts';
import { finishFirstFactor, finishSignIn, passkeyBinding, startSecondFactor } from './mfa-steps.ts';

interface Step {
  runtime: ProviderRuntime;
  details: Interaction;
  tenant: Tenant;
}

async function load(deps: InteractionDeps, ctx: Context): Promise<Step> {
  const tenant = ctx.state.tenant;
  const runtime = await ctx.state.runtime.provider();
  return { runtime, details: await loadInteraction(ctx, runtime), tenant };
}

/** The parked sign-in, while the interaction is still at its login prompt. */
function parked(details: Interaction): PendingMfa | undefined {
  return details.prompt.name === 'login' ? (details.result as { atrium_mfa?: PendingMfa } | undefined)?.atrium_mfa : undefined;
}

function pendingOf(details: Interaction): PendingMfa {
  const pending = parked(details);
  if (!pending) throw new AppError('invalid_request', 400, 'There is no sign-in waiting for a second factor. Go back to the application and start again.', { messageKey: 'errors.no_second_factor_pending' });
  return pending;
}

/** Enrolment is only for users with no factor: anyone else proves the one they have. */
async function requireNoFactor(deps: InteractionDeps, policy: MfaPolicy, accountId: string): Promise<void> {
  const methods = usableFactors(policy, await deps.mfa.status(accountId));
  if (methods.totp || methods.passkeys) throw new AppError('invalid_request', 400, 'a second factor is already set up: use it to sign in');
}

/** Counts an attempt; a refusal past the limit is a 429 page. */
async function allowAttempt(deps: InteractionDeps, ctx: Context, tenant: Tenant, accountId: string): Promise<boolean> {
  const outcome = await deps.rateLimiter.consume({ tenantId: tenant.id, subject: accountId }, MFA_ATTEMPTS);
  if (outcome.allowed) return true;
  ctx.set('Retry-After', String(outcome.retryAfterSeconds));
  return false;
}

async function failed(deps: InteractionDeps, ctx: Context, details: Interaction, accountId: string, method: string): Promise<void> {
  await deps.audit.record({ action: 'user.sign_in.second_factor', outcome: 'failure', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method } });
}

async function showMfa(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details } = await load(deps, ctx);
  const pending = parked(details);
  if (!pending) return ctx.redirect(`/interaction/${encodeURIComponent(details.uid)}`);
  if (pending.verified) return finishSignIn(deps, ctx, runtime, details, pending.accountId, [...pending.amr, pending.verified], pending.verified);
  await renderMfaPage(deps, ctx, runtime, details, pending);
}

/** A second factor of a user who has one: how to check it, and what it adds to the sign-in. */
interface Factor {
  method: 'totp' | 'recovery_code' | 'passkey';
  amr: string;
  wrong: string;
  verify: (deps: InteractionDeps, tenant: Tenant, step: Step, pending: PendingMfa, form: URLSearchParams) => Promise<boolean>;
}

const FACTORS: Record<string, Factor> = {
  '/mfa/totp': { method: 'totp', amr: 'otp', wrong: 'mfa.wrong_code', verify: (deps, tenant, _step, pending, form) => deps.mfa.verifyTotp(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 16)) },
  '/mfa/recovery': { method: 'recovery_code', amr: 'otp', wrong: 'mfa.wrong_recovery_code', verify: (deps, tenant, _step, pending, form) => deps.mfa.useRecoveryCode(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 64)) },
  '/mfa/passkey': {
    method: 'passkey',
    amr: 'hwk',
    wrong: 'mfa.passkey_failed',
    verify: async (deps, tenant, step, pending, form) => Boolean(await deps.mfa.finishPasskeyAuthentication(tenant, passkeyBinding(step.details.uid), parseCredentialResponse(form.get('response')), pending.accountId)),
  },
};

async function submitFactor(deps: InteractionDeps, factor: Factor, ctx: Context): Promise<void> {
  const step = await load(deps, ctx);
  const { runtime, details, tenant } = step;
  const form = await readInteractionForm(ctx, runtime);
  const pending = pendingOf(details);
  if (!(await allowAttempt(deps, ctx, tenant, pending.accountId))) return renderMfaPage(deps, ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
  if (await factor.verify(deps, tenant, step, pending, form)) return finishSignIn(deps, ctx, runtime, details, pending.accountId, [...pending.amr, factor.amr], factor.method);
  await failed(deps, ctx, details, pending.accountId, factor.method);
  await renderMfaPage(deps, ctx, runtime, details, pending, { error: factor.wrong, status: 401 });
}

async function enrolTotp(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details, tenant } = await load(deps, ctx);
  const form = await readInteractionForm(ctx, runtime);
  const pending = pendingOf(details);
  await requireNoFactor(deps, ctx.state.runtime.mfa, pending.accountId);
  if (!(await allowAttempt(deps, ctx, tenant, pending.accountId))) return renderMfaPage(deps, ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
  const codes = await deps.mfa.confirmTotpEnrolment(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 16), { ip: ctx.ip, userAgent: ctx.get('user-agent') });
  if (!codes) return renderMfaPage(deps, ctx, runtime, details, pending, { error: 'mfa.wrong_code', status: 401 });
  await runtime.provider.interactionResult(ctx.req, ctx.res, { atrium_mfa: { ...pending, verified: 'otp' } satisfies PendingMfa }, { mergeWithLastSubmission: false });
  if (codes.length === 0) return finishSignIn(deps, ctx, runtime, details, pending.accountId, [...pending.amr, 'otp'], 'totp_enrolment');
  await renderMfaPage(deps, ctx, runtime, details, pending, { recoveryCodes: codes });
}

async function enrolPasskey(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details, tenant } = await load(deps, ctx);
  const form = await readInteractionForm(ctx, runtime);
  const pending = pendingOf(details);
  await requireNoFactor(deps, ctx.state.runtime.mfa, pending.accountId);
  const ok = await deps.mfa.finishPasskeyRegistration(tenant, pending.accountId, passkeyBinding(details.uid), parseCredentialResponse(form.get('response')), form.get('name') ?? '', { ip: ctx.ip, userAgent: ctx.get('user-agent') });
  if (!ok) return renderMfaPage(deps, ctx, runtime, details, pending, { error: 'mfa.passkey_failed', status: 400 });
  return finishSignIn(deps, ctx, runtime, details, pending.accountId, [...pending.amr, 'hwk'], 'passkey_enrolment');
}

/** After the recovery codes of a new enrolment: the sign-in goes on. */
async function continueAfterCodes(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details } = await load(deps, ctx);
  await readInteractionForm(ctx, runtime);
  const pending = pendingOf(details);
  if (!pending.verified) return renderMfaPage(deps, ctx, runtime, details, pending);
  return finishSignIn(deps, ctx, runtime, details, pending.accountId, [...pending.amr, pending.verified], pending.verified);
}

/** Passwordless: a discoverable passkey signs in on its own (user verification makes it two factors). */
async function signInWithPasskey(deps: InteractionDeps, ctx: Context): Promise<void> {
  const { runtime, details, tenant } = await load(deps, ctx);
  const form = await readInteractionForm(ctx, runtime);
  if (details.prompt.name !== 'login') throw new AppError('invalid_request', 400, 'this sign-in step is already complete');
  const verified = await deps.mfa.finishPasskeyAuthentication(tenant, passkeyBinding(details.uid), parseCredentialResponse(form.get('response')));
  const user = verified ? await deps.users.findById(verified.userId) : undefined;
  const request = { ip: ctx.ip, userAgent: ctx.get('user-agent') };
  if (!verified || !user || user.status !== 'active') {
    await deps.audit.record({ action: 'user.sign_in', outcome: 'failure', actor: null, target: null, ...request, details: { client_id: details.params.client_id, method: 'passkey' } });
    throw new AppError('passkey_not_accepted', 401, 'This passkey was not accepted. Sign in with your email and password.', { messageKey: 'errors.passkey_not_accepted' });
  }
  await deps.users.recordLogin(user.id);
  await deps.audit.record({ action: 'user.sign_in', actor: user.id, target: user.id, ...request, details: { client_id: details.params.client_id, method: 'passkey', user_verified: verified.userVerified } });
  if (verified.userVerified) return finishSignIn(deps, ctx, runtime, details, user.id, ['hwk', 'user'], 'passkey');
  // Without user verification a passkey is one factor, like a password.
  if (await startSecondFactor(deps, ctx, runtime, details, user, ['hwk'])) return;
  await finishFirstFactor(ctx, runtime, user.id, ['hwk']);
}

export function mfaRoutes(deps: InteractionDeps): Router {
  const router = new Router({ prefix: '/interaction/:uid' });
  router.get('/mfa', (ctx) => showMfa(deps, ctx));
  // A reload after a refused code lands on the page again.
  for (const path of ['/mfa/totp', '/mfa/recovery', '/mfa/passkey', '/mfa/enrol/totp', '/mfa/enrol/passkey']) {
    router.get(path, (ctx) => ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}/mfa`));
  }
  for (const [path, factor] of Object.entries(FACTORS)) router.post(path, (ctx) => submitFactor(deps, factor, ctx));
  // Enrolment, for a user who must use MFA and has none yet.
  router.post('/mfa/enrol/totp', (ctx) => enrolTotp(deps, ctx));
  router.post('/mfa/enrol/passkey', (ctx) => enrolPasskey(deps, ctx));
  router.post('/mfa/continue', (ctx) => continueAfterCodes(deps, ctx));
  router.post('/passkey', (ctx) => signInWithPasskey(deps, ctx));
  return router;
}
