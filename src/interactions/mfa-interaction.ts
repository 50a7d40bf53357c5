/**
 * The second-factor step of a sign-in (`/interaction/:uid/mfa`) and passwordless sign-in
 * with a passkey (`/interaction/:uid/passkey`).
 *
 * After the first factor (interaction-routes.ts calls `startSecondFactor`), the pending
 * sign-in is kept in the interaction itself (`result.atrium_mfa`, stored server-side by
 * oidc-provider and bound to the browser by its interaction cookie) until a second factor
 * is verified; only then is the login result (accountId, amr, acr) given to the Provider.
 * A user whom the policy or the client's `acr_values` require to use MFA and who has none
 * enrols here before the sign-in completes.
 */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { UserStore } from '../accounts/user-store.ts';
import { AppError } from '../core/errors.ts';
import type { TenantRuntime } from '../oidc/provider-factory.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RateLimiter, RateLimitRule } from '../security/rate-limiter.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { renderTenantPage } from '../web/page.ts';
import { interactionCsrfToken, loadInteraction, readInteractionForm, uiLocales, type Interaction } from './interaction-context.ts';
import { acrFor, asksForMultiFactor, mfaPolicy, mfaRequiredFor, type MfaPolicy } from '../mfa/mfa-policy.ts';
import type { MfaService, MfaStatus } from '../mfa/mfa-service.ts';
import { STEP_UP_REASON } from '../mfa/step-up.ts';
import { parseCredentialResponse } from '../mfa/webauthn.ts';


/** The sign-in waiting for its second factor, kept in the interaction's result. */
interface PendingMfa {
  accountId: string;
  /** Methods of the first factor, e.g. ['pwd']. */
  amr: string[];
  /** Set once a second factor is verified during enrolment; the sign-in finishes with it. */
  verified?: string;
}

/** Ten attempts per account per 15 minutes across interactions: a 6-digit code cannot be walked. */
export const MFA_ATTEMPTS: RateLimitRule = { name: 'mfa_per_account', limit: 10, windowSeconds: 15 * 60 };

export interface MfaInteractionDeps {
  mfa: MfaService;
  users: UserStore;
  audit: AuditLog;
  rateLimiter: RateLimiter;
  runtimeFor: (ctx: Context) => Promise<TenantRuntime>;
}

/** What a passkey challenge of a sign-in is bound to: its interaction (webauthn.ts). */
const binding = (uid: string) => `interaction:${uid}`;

function requestedAcr(details: Pick<Interaction, 'params'>): string[] {
  const values = typeof details.params.acr_values === 'string' ? details.params.acr_values.split(' ').filter(Boolean) : [];
  if (typeof details.params.claims === 'string') {
    try {
      const acr = (JSON.parse(details.params.claims) as { id_token?: { acr?: { value?: unknown; values?: unknown } } }).id_token?.acr;
      if (Array.isArray(acr?.values)) values.push(...acr.values.filter((v): v is string => typeof v === 'string'));
      else if (typeof acr?.value === 'string') values.push(acr.value);
    } catch {
      /* oidc-provider already refused malformed claims */
    }
  }
  return values;
}

/** The parked sign-in, while the interaction is still at its login prompt. */
function parked(details: Interaction): PendingMfa | undefined {
  return details.prompt.name === 'login' ? (details.result as { atrium_mfa?: PendingMfa } | undefined)?.atrium_mfa : undefined;
}

/** Factors this user can use under the tenant's policy. */
function usable(policy: MfaPolicy, status: MfaStatus): { totp: boolean; passkeys: boolean } {
  return { totp: policy.totpEnabled && status.totp, passkeys: policy.webauthnEnabled && status.passkeys.length > 0 };
}

/**
 * Whether a sign-in whose first factor is done (a password, a passkey without user
 * verification, an upstream IdP) goes on to a second one: the user has one, the tenant's
 * policy requires one, or the client asked for the MFA acr.
 */
export async function secondFactorDue(mfa: MfaService, tenant: Tenant, user: { id: string; roles: readonly string[] }, params: Interaction['params']): Promise<boolean> {
  const policy = mfaPolicy(tenant);
  if (!policy.totpEnabled && !policy.webauthnEnabled) return false; // no method to offer
  const methods = usable(policy, await mfa.status(user.id));
  return methods.totp || methods.passkeys || mfaRequiredFor(policy, user) || asksForMultiFactor(requestedAcr({ params }), undefined);
}

/** The pending sign-in an upstream IdP's callback parks in the interaction when a second factor is due. */
export function pendingAfterFederation(accountId: string): { atrium_mfa: PendingMfa } {
  return { atrium_mfa: { accountId, amr: ['fed'] } };
}

export class MfaInteraction {
  readonly #deps: MfaInteractionDeps;
  constructor(deps: MfaInteractionDeps) {
    this.#deps = deps;
  }

  /**
   * Called once the first factor is verified. When a second factor is due (the user has
   * one, the policy requires one, or the client asked for the MFA acr) it parks the
   * sign-in and sends the browser to the MFA page: true. Otherwise false, and the caller
   * finishes the sign-in with the first factor alone.
   */
  async startSecondFactor(ctx: Context, runtime: TenantRuntime, details: Interaction, user: { id: string; roles: readonly string[] }, firstAmr: string[] = ['pwd']): Promise<boolean> {
    if (!(await secondFactorDue(this.#deps.mfa, ctx.state.tenant, user, details.params))) return false;
    await this.#park(ctx, runtime, details, { accountId: user.id, amr: firstAmr });
    return true;
  }

  /** Keeps the sign-in in the interaction and sends the browser to the MFA page. */
  async #park(ctx: Context, runtime: TenantRuntime, details: Interaction, pending: PendingMfa): Promise<void> {
    await runtime.provider.interactionResult(ctx.req, ctx.res, { atrium_mfa: pending }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(`/interaction/${encodeURIComponent(details.uid)}/mfa`);
  }

  /**
   * Step-up at GET /interaction/:uid: the client asked for the MFA acr and the browser's
   * session has a lower one. The signed-in user goes straight to the second factor.
   */
  async stepUp(ctx: Context, runtime: TenantRuntime, details: Interaction): Promise<boolean> {
    const accountId = details.session?.accountId;
    if (details.prompt.name !== 'login' || !details.prompt.reasons.includes(STEP_UP_REASON) || !accountId) return false;
    // Other reasons (max_age, prompt=login, a different login_hint) need the password again.
    if (details.prompt.reasons.some((r) => r !== STEP_UP_REASON)) return false;
    const user = await this.#deps.users.findById(accountId);
    if (!user || user.status !== 'active') return false;
    const firstAmr = (details.session as { amr?: string[] }).amr ?? ['pwd'];
    await this.#park(ctx, runtime, details, { accountId, amr: firstAmr });
    return true;
  }

  async #load(ctx: Context): Promise<{ runtime: TenantRuntime; details: Interaction; tenant: Tenant }> {
    const runtime = await this.#deps.runtimeFor(ctx);
    return { runtime, details: await loadInteraction(ctx, runtime), tenant: ctx.state.tenant };
  }

  #pending(details: Interaction): PendingMfa {
    const pending = parked(details);
    if (!pending) throw new AppError('invalid_request', 400, 'There is no sign-in waiting for a second factor. Go back to the application and start again.', { messageKey: 'errors.no_second_factor_pending' });
    return pending;
  }

  async #finish(ctx: Context, runtime: TenantRuntime, details: Interaction, accountId: string, amr: string[], method: string): Promise<void> {
    const unique = [...new Set(amr)];
    const acr = acrFor(unique);
    await this.#deps.audit.record({ action: 'user.sign_in.second_factor', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method, amr: unique, acr } });
    await this.#deps.rateLimiter.reset({ tenantId: (ctx.state.tenant).id, subject: accountId }, MFA_ATTEMPTS);
    const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { login: { accountId, amr: unique, acr } }, { mergeWithLastSubmission: false });
    ctx.status = 303;
    ctx.redirect(redirectTo);
  }

  /** Enrolment is only for users with no factor: anyone else proves the one they have. */
  async #requireNoFactor(tenant: Tenant, accountId: string): Promise<void> {
    const methods = usable(mfaPolicy(tenant), await this.#deps.mfa.status(accountId));
    if (methods.totp || methods.passkeys) throw new AppError('invalid_request', 400, 'a second factor is already set up: use it to sign in');
  }

  /** Counts an attempt; a refusal past the limit is a 429 page. */
  async #allowAttempt(ctx: Context, tenant: Tenant, accountId: string): Promise<boolean> {
    const outcome = await this.#deps.rateLimiter.consume({ tenantId: tenant.id, subject: accountId }, MFA_ATTEMPTS);
    if (outcome.allowed) return true;
    ctx.set('Retry-After', String(outcome.retryAfterSeconds));
    return false;
  }

  async #render(ctx: Context, runtime: TenantRuntime, details: Interaction, pending: PendingMfa, extra: { error?: string; status?: number; recoveryCodes?: string[] } = {}): Promise<void> {
    const tenant = ctx.state.tenant;
    const policy = mfaPolicy(tenant);
    const status = await this.#deps.mfa.status(pending.accountId);
    const methods = usable(policy, status);
    const base = `/interaction/${encodeURIComponent(details.uid)}`;
    const csrf = interactionCsrfToken(runtime, details.uid);
    const explicitLocale = uiLocales(details);
    if (extra.status) ctx.status = extra.status;
    if (extra.recoveryCodes) {
      await renderTenantPage(ctx, 'mfa/recovery-codes', { title: 'mfa.recovery_codes_title', codes: extra.recoveryCodes, continueAction: `${base}/mfa/continue`, csrf }, explicitLocale);
      return;
    }
    if (!methods.totp && !methods.passkeys) {
      const user = await this.#deps.users.findById(pending.accountId);
      if (!user) throw new AppError('interaction_expired', 400, 'This sign-in request has expired. Go back to the application and start again.', { messageKey: 'errors.sign_in_expired' });
      const registration = policy.webauthnEnabled ? JSON.stringify(await this.#deps.mfa.passkeyRegistrationOptions(tenant, user, binding(details.uid), status.passkeys)) : undefined;
      const totp = policy.totpEnabled ? ((await this.#deps.mfa.pendingTotp(tenant, user)) ?? (await this.#deps.mfa.startTotpEnrolment(tenant, user))) : undefined;
      await renderTenantPage(
        ctx,
        'mfa/enrol',
        (t) => ({
          title: 'mfa.enrol_title',
          error: extra.error ? t(extra.error) : '',
          csrf,
          totp: totp ? { secret: totp.secret, qrSvg: totp.qrSvg, action: `${base}/mfa/enrol/totp` } : undefined,
          passkey: registration ? { options: registration, action: `${base}/mfa/enrol/passkey` } : undefined,
          abortAction: `${base}/abort`,
        }),
        explicitLocale,
      );
      return;
    }
    const passkeyOptions = methods.passkeys ? await this.#deps.mfa.passkeyAuthenticationOptions(tenant, binding(details.uid), status.passkeys) : undefined;
    await renderTenantPage(
      ctx,
      'mfa/challenge',
      (t) => ({
        title: 'mfa.challenge_title',
        error: extra.error ? t(extra.error) : '',
        csrf,
        totpAction: methods.totp ? `${base}/mfa/totp` : '',
        recoveryAction: status.recoveryCodesLeft > 0 ? `${base}/mfa/recovery` : '',
        passkey: passkeyOptions ? { options: JSON.stringify(passkeyOptions), action: `${base}/mfa/passkey` } : undefined,
        abortAction: `${base}/abort`,
      }),
      explicitLocale,
    );
  }

  /** The login page's "Sign in with a passkey" button: its WebAuthn options and form action, when the tenant allows passkeys. */
  async passkeySignIn(ctx: Context, uid: string): Promise<{ options: string; action: string } | undefined> {
    const tenant = ctx.state.tenant;
    if (!mfaPolicy(tenant).webauthnEnabled) return undefined;
    const options = await this.#deps.mfa.passkeyAuthenticationOptions(tenant, binding(uid));
    return { options: JSON.stringify(options), action: `/interaction/${encodeURIComponent(uid)}/passkey` };
  }

  /** Mounted on /interaction/: makes the hooks (mfa/login-hooks.ts) reachable and serves the MFA routes. */
  middleware() {
    const routes = this.routes().routes();
    return (ctx: Context, next: Next) => {
      ctx.state.mfaInteraction = this;
      return routes(ctx as never, next);
    };
  }

  routes(): Router {
    const router = new Router({ prefix: '/interaction/:uid' });
    const { mfa, users } = this.#deps;

    router.get('/mfa', async (ctx) => {
      const { runtime, details } = await this.#load(ctx);
      const pending = parked(details);
      if (!pending) return ctx.redirect(`/interaction/${encodeURIComponent(details.uid)}`);
      if (pending.verified) return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, pending.verified], pending.verified);
      await this.#render(ctx, runtime, details, pending);
    });

    // A reload after a refused code lands on the page again.
    for (const path of ['/mfa/totp', '/mfa/recovery', '/mfa/passkey', '/mfa/enrol/totp', '/mfa/enrol/passkey']) {
      router.get(path, (ctx) => ctx.redirect(`/interaction/${encodeURIComponent(ctx.params.uid!)}/mfa`));
    }

    router.post('/mfa/totp', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      if (!(await this.#allowAttempt(ctx, tenant, pending.accountId))) return this.#render(ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
      if (await mfa.verifyTotp(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 16))) {
        return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, 'otp'], 'totp');
      }
      await this.#failed(ctx, details, pending.accountId, 'totp');
      await this.#render(ctx, runtime, details, pending, { error: 'mfa.wrong_code', status: 401 });
    });

    router.post('/mfa/recovery', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      if (!(await this.#allowAttempt(ctx, tenant, pending.accountId))) return this.#render(ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
      if (await mfa.useRecoveryCode(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 64))) {
        return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, 'otp'], 'recovery_code');
      }
      await this.#failed(ctx, details, pending.accountId, 'recovery_code');
      await this.#render(ctx, runtime, details, pending, { error: 'mfa.wrong_recovery_code', status: 401 });
    });

    router.post('/mfa/passkey', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      if (!(await this.#allowAttempt(ctx, tenant, pending.accountId))) return this.#render(ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
      const verified = await mfa.finishPasskeyAuthentication(tenant, binding(details.uid), parseCredentialResponse(form.get('response')), pending.accountId);
      if (verified) return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, 'hwk'], 'passkey');
      await this.#failed(ctx, details, pending.accountId, 'passkey');
      await this.#render(ctx, runtime, details, pending, { error: 'mfa.passkey_failed', status: 401 });
    });

    // Enrolment, for a user who must use MFA and has none yet.
    router.post('/mfa/enrol/totp', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      await this.#requireNoFactor(tenant, pending.accountId);
      if (!(await this.#allowAttempt(ctx, tenant, pending.accountId))) return this.#render(ctx, runtime, details, pending, { error: 'mfa.too_many_attempts', status: 429 });
      const codes = await mfa.confirmTotpEnrolment(tenant, pending.accountId, (form.get('code') ?? '').slice(0, 16), { ip: ctx.ip, userAgent: ctx.get('user-agent') });
      if (!codes) return this.#render(ctx, runtime, details, pending, { error: 'mfa.wrong_code', status: 401 });
      await runtime.provider.interactionResult(ctx.req, ctx.res, { atrium_mfa: { ...pending, verified: 'otp' } satisfies PendingMfa }, { mergeWithLastSubmission: false });
      if (codes.length === 0) return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, 'otp'], 'totp_enrolment');
      await this.#render(ctx, runtime, details, pending, { recoveryCodes: codes });
    });

    router.post('/mfa/enrol/passkey', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      await this.#requireNoFactor(tenant, pending.accountId);
      const ok = await mfa.finishPasskeyRegistration(tenant, pending.accountId, binding(details.uid), parseCredentialResponse(form.get('response')), form.get('name') ?? '', { ip: ctx.ip, userAgent: ctx.get('user-agent') });
      if (!ok) return this.#render(ctx, runtime, details, pending, { error: 'mfa.passkey_failed', status: 400 });
      return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, 'hwk'], 'passkey_enrolment');
    });

    router.post('/mfa/continue', async (ctx) => {
      const { runtime, details } = await this.#load(ctx);
      await readInteractionForm(ctx, runtime);
      const pending = this.#pending(details);
      if (!pending.verified) return this.#render(ctx, runtime, details, pending);
      return this.#finish(ctx, runtime, details, pending.accountId, [...pending.amr, pending.verified], pending.verified);
    });

    // Passwordless: a discoverable passkey signs in on its own (user verification makes it two factors).
    router.post('/passkey', async (ctx) => {
      const { runtime, details, tenant } = await this.#load(ctx);
      const form = await readInteractionForm(ctx, runtime);
      if (details.prompt.name !== 'login') throw new AppError('invalid_request', 400, 'this sign-in step is already complete');
      const verified = await mfa.finishPasskeyAuthentication(tenant, binding(details.uid), parseCredentialResponse(form.get('response')));
      const user = verified ? await users.findById(verified.userId) : undefined;
      if (!verified || !user || user.status !== 'active') {
        await this.#deps.audit.record({ action: 'user.sign_in', outcome: 'failure', actor: null, target: null, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method: 'passkey' } });
        throw new AppError('passkey_not_accepted', 401, 'This passkey was not accepted. Sign in with your email and password.', { messageKey: 'errors.passkey_not_accepted' });
      }
      await users.recordLogin(user.id);
      await this.#deps.audit.record({ action: 'user.sign_in', actor: user.id, target: user.id, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method: 'passkey', user_verified: verified.userVerified } });
      if (verified.userVerified) return this.#finish(ctx, runtime, details, user.id, ['hwk', 'user'], 'passkey');
      // Without user verification a passkey is one factor, like a password.
      if (await this.startSecondFactor(ctx, runtime, details, user, ['hwk'])) return;
      const redirectTo = await runtime.provider.interactionResult(ctx.req, ctx.res, { login: { accountId: user.id, amr: ['hwk'], acr: acrFor(['hwk']) } }, { mergeWithLastSubmission: false });
      ctx.status = 303;
      ctx.redirect(redirectTo);
    });

    return router;
  }

  async #failed(ctx: Context, details: Interaction, accountId: string, method: string): Promise<void> {
    await this.#deps.audit.record({ action: 'user.sign_in.second_factor', outcome: 'failure', actor: accountId, target: accountId, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { client_id: details.params.client_id, method } });
  }
}
