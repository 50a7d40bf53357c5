/**
 * The MFA page of a parked sign-in (mfa-routes.ts): the challenge for a user with a factor,
 * enrolment for one who must use MFA and has none, or the recovery codes just issued.
 */
import type { Context } from 'koa';
import { AppError } from '../core/errors.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { MfaPolicy } from '../mfa/mfa-policy.ts';
import type { MfaStatus } from '../mfa/mfa-service.ts';
import { usableFactors, type PendingMfa } from '../mfa/second-factor.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { renderTenantPage } from '../web/page.ts';
import { interactionCsrfToken, uiLocales, type Interaction } from './interaction-context.ts';
import type { InteractionDeps } from './interaction-deps.ts';
import { passkeyBinding } from './mfa-steps.ts';

export interface MfaPageExtra {
  /** A translation key. */
  error?: string;
  status?: number;
  recoveryCodes?: string[];
}

interface PageParts {
  tenant: Tenant;
  policy: MfaPolicy;
  status: MfaStatus;
  base: string;
  csrf: string;
  locale: string | undefined;
}

export async function renderMfaPage(deps: Pick<InteractionDeps, 'mfa' | 'users'>, ctx: Context, runtime: ProviderRuntime, details: Interaction, pending: PendingMfa, extra: MfaPageExtra = {}): Promise<void> {
  const tenant = ctx.state.tenant;
  const policy = ctx.state.runtime.mfa;
  const status = await deps.mfa.status(pending.accountId);
  const parts: PageParts = { tenant, policy, status, base: `/interaction/${encodeURIComponent(details.uid)}`, csrf: interactionCsrfToken(runtime, details.uid), locale: uiLocales(details) };
  if (extra.status) ctx.status = extra.status;
  if (extra.recoveryCodes) {
    await renderTenantPage(ctx, 'interactions/mfa/recovery-codes', { title: 'mfa.recovery_codes_title', codes: extra.recoveryCodes, continueAction: `${parts.base}/mfa/continue`, csrf: parts.csrf }, parts.locale);
    return;
  }
  const methods = usableFactors(policy, status);
  if (!methods.totp && !methods.passkeys) return renderEnrolment(deps, ctx, details, pending, parts, extra.error);
  const passkeyOptions = methods.passkeys ? await deps.mfa.passkeyAuthenticationOptions(tenant, passkeyBinding(details.uid), status.passkeys) : undefined;
  await renderTenantPage(
    ctx,
    'interactions/mfa/challenge',
    (t) => ({
      title: 'mfa.challenge_title',
      error: extra.error ? t(extra.error) : '',
      csrf: parts.csrf,
      totpAction: methods.totp ? `${parts.base}/mfa/totp` : '',
      recoveryAction: status.recoveryCodesLeft > 0 ? `${parts.base}/mfa/recovery` : '',
      passkey: passkeyOptions ? { options: JSON.stringify(passkeyOptions), action: `${parts.base}/mfa/passkey` } : undefined,
      abortAction: `${parts.base}/abort`,
    }),
    parts.locale,
  );
}

/** Enrolment, for a user whom the policy or the client requires to use MFA and who has no factor yet. */
async function renderEnrolment(deps: Pick<InteractionDeps, 'mfa' | 'users'>, ctx: Context, details: Interaction, pending: PendingMfa, parts: PageParts, error: string | undefined): Promise<void> {
  const { tenant, policy, status, base } = parts;
  const user = await deps.users.findById(pending.accountId);
  if (!user) throw new AppError('interaction_expired', 400, 'This sign-in request has expired. Go back to the application and start again.', { messageKey: 'errors.sign_in_expired' });
  const registration = policy.webauthnEnabled ? JSON.stringify(await deps.mfa.passkeyRegistrationOptions(tenant, user, passkeyBinding(details.uid), status.passkeys)) : undefined;
  const totp = policy.totpEnabled ? ((await deps.mfa.pendingTotp(tenant, user)) ?? (await deps.mfa.startTotpEnrolment(tenant, user))) : undefined;
  await renderTenantPage(
    ctx,
    'interactions/mfa/enrol',
    (t) => ({
      title: 'mfa.enrol_title',
      error: error ? t(error) : '',
      csrf: parts.csrf,
      totp: totp ? { secret: totp.secret, qrSvg: totp.qrSvg, action: `${base}/mfa/enrol/totp` } : undefined,
      passkey: registration ? { options: registration, action: `${base}/mfa/enrol/passkey` } : undefined,
      abortAction: `${base}/abort`,
    }),
    parts.locale,
  );
}
