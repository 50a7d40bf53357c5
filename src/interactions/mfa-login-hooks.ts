/**
 * What the sign-in pages (interactions/interaction-routes.ts) need from MFA, so the login
 * handler stays small. The MFA step finds itself in `ctx.state.mfaInteraction`, put there
 * for /interaction/ requests by `MfaInteraction.middleware()`; without it (MFA not mounted)
 * every hook is a no-op and sign-in is password-only, as before.
 */
import type { Context } from 'koa';
import type { TenantRuntime } from '../oidc/provider-factory.ts';
import type { MfaInteraction } from './mfa-interaction.ts';
import { ACR_SINGLE_FACTOR } from '../mfa/mfa-policy.ts';

type Interaction = Awaited<ReturnType<TenantRuntime['provider']['interactionDetails']>>;

const mfaOf = (ctx: Context) => ctx.state.mfaInteraction as MfaInteraction | undefined;

/** The acr of a sign-in with the password alone. */
export const PASSWORD_ACR = ACR_SINGLE_FACTOR;

/**
 * After the password: when a second factor is due, parks the sign-in, redirects to
 * /interaction/:uid/mfa and returns true; false means finish with `amr: ['pwd']`.
 */
export async function startSecondFactor(ctx: Context, runtime: TenantRuntime, details: Interaction, user: { id: string; roles: readonly string[] }): Promise<boolean> {
  return (await mfaOf(ctx)?.startSecondFactor(ctx, runtime, details, user)) ?? false;
}

/** At GET /interaction/:uid: a client's MFA acr_values over a password-only session go straight to the second factor. */
export async function stepUpIfAsked(ctx: Context, runtime: TenantRuntime, details: Interaction): Promise<boolean> {
  return (await mfaOf(ctx)?.stepUp(ctx, runtime, details)) ?? false;
}

/** The login page's passkey button (options + action), or undefined when passkeys are off. */
export async function passkeySignIn(ctx: Context, uid: string): Promise<{ options: string; action: string } | undefined> {
  return mfaOf(ctx)?.passkeySignIn(ctx, uid);
}
