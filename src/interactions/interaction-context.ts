/**
 * What every page of a sign-in in progress (`/interaction/:uid/...`: login, MFA, signup,
 * upstream IdPs) needs from it: the interaction itself, bound to this browser and uid, its
 * forms' CSRF check, and the languages the client asked for.
 */
import type { Context } from 'koa';
import { errors } from 'oidc-provider';
import { readForm } from '../web/body.ts';
import { AppError } from '../core/errors.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import { csrfToken, verifyCsrfToken } from '../core/csrf.ts';

export type Interaction = Awaited<ReturnType<ProviderRuntime['provider']['interactionDetails']>>;

/** The refusal when the interaction is gone, or not this browser's, or not the one in the path. */
export const interactionExpired = () =>
  new AppError('interaction_expired', 400, 'This sign-in request has expired or was opened in another browser. Go back to the application and start again.', { messageKey: 'errors.sign_in_expired_or_elsewhere' });

/** The interaction of `ctx.params.uid` in this browser (its cookie), or `interactionExpired`. */
export async function loadInteraction(ctx: Context, runtime: ProviderRuntime): Promise<Interaction> {
  try {
    const details = await runtime.provider.interactionDetails(ctx.req, ctx.res);
    if (details.uid !== ctx.params.uid) throw new errors.SessionNotFound('interaction mismatch');
    return details;
  } catch (err) {
    if (err instanceof errors.SessionNotFound || err instanceof errors.InvalidRequest) throw interactionExpired();
    throw err;
  }
}

/** The CSRF token of the interaction's forms: bound to its uid, itself bound to the browser. */
export const interactionCsrfToken = (runtime: ProviderRuntime, uid: string) => csrfToken(runtime.csrfKeys, `interaction:${uid}`);

/** The posted form of an interaction page, its CSRF token checked (403 otherwise). */
export async function readInteractionForm(ctx: Context, runtime: ProviderRuntime, uid: string = ctx.params.uid ?? ''): Promise<URLSearchParams> {
  const form = await readForm(ctx);
  if (!verifyCsrfToken(runtime.csrfKeys, `interaction:${uid}`, form.get('csrf'))) {
    throw new AppError('invalid_csrf_token', 403, 'The form has expired. Go back and try again.', { messageKey: 'errors.form_expired' });
  }
  return form;
}

/** The languages the client asked for in the authorization request, if any. */
export function uiLocales(details: Interaction): string | undefined {
  return typeof details.params.ui_locales === 'string' ? details.params.ui_locales : undefined;
}
