/**
 * Step-up: oidc-provider treats `acr_values` as voluntary, so a session signed in with a
 * password alone would satisfy a client asking for the MFA level. This adds a check to the
 * login prompt: when the request names the MFA acr and the session's acr is not among the
 * requested ones, the user is sent back through the interaction for a second factor.
 */
import { interactionPolicy, type KoaContextWithOIDC } from 'oidc-provider';
import { asksForMultiFactor } from './mfa-policy.ts';

export const STEP_UP_REASON = 'acr_step_up';

/** The acr values a request asks for: `acr_values` or `claims.id_token.acr` (value or values). */
export function requestedAcrValues(ctx: KoaContextWithOIDC): string[] {
  const requested = (ctx.oidc.claims as { id_token?: { acr?: { value?: unknown; values?: unknown } } } | undefined)?.id_token?.acr;
  if (!requested) return [];
  if (Array.isArray(requested.values)) return requested.values.filter((v): v is string => typeof v === 'string');
  return typeof requested.value === 'string' ? [requested.value] : [];
}

export function interactionPolicyWithStepUp(): interactionPolicy.Prompt[] {
  const policy = interactionPolicy.base();
  const login = policy.get('login')!;
  login.checks.add(
    new interactionPolicy.Check(STEP_UP_REASON, 'multi-factor authentication is required', (ctx) => {
      if (!ctx.oidc.session?.accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      // Just signed in through the interaction: never loop, whatever the outcome was.
      if (ctx.oidc.result?.login) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
      return asksForMultiFactor(requestedAcrValues(ctx), ctx.oidc.acr) ? interactionPolicy.Check.REQUEST_PROMPT : interactionPolicy.Check.NO_NEED_TO_PROMPT;
    }),
  );
  return policy;
}
