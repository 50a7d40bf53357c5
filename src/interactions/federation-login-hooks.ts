/**
 * What the login page needs from federation, kept here so the login handler stays small:
 * the buttons of the tenant's enabled connections, and home-realm discovery (an email whose
 * domain belongs to a connection goes straight to that upstream, before any password check).
 * Both find federation in `ctx.state.federation`, put there for tenant requests by
 * `federationFlowRoutes` (as `ctx.state.tenant` is by the tenant middleware).
 */
import type { Context } from 'koa';
import type { Federation } from '../federation/federation.ts';
import { startFederatedSignIn } from './federation-flow-routes.ts';

export interface FederationButton {
  name: string;
  displayName: string;
  /** Where the button's form posts (with the login form's CSRF token). */
  action: string;
}

const federationOf = (ctx: Context) => ctx.state.federation as Federation | undefined;

/** The login page's buttons for interaction `uid`, one per enabled connection of the tenant in context. */
export async function federationButtons(ctx: Context, uid: string): Promise<FederationButton[]> {
  const federation = federationOf(ctx);
  if (!federation) return [];
  return (await federation.service.enabled()).map((c) => ({ name: c.name, displayName: c.settings.display_name, action: `/interaction/${encodeURIComponent(uid)}/federation/${c.name}` }));
}

/**
 * Home-realm discovery for a submitted sign-in form (its CSRF token already checked):
 * when the email's domain belongs to an enabled connection, answers the redirect to that
 * upstream (or its error page) and returns true; otherwise leaves ctx alone and returns false.
 */
export async function routeToHomeRealm(ctx: Context, uid: string, email: string): Promise<boolean> {
  const federation = federationOf(ctx);
  const connection = federation && email ? await federation.service.forEmail(email) : undefined;
  if (!federation || !connection) return false;
  await startFederatedSignIn(ctx, federation.signIn, uid, connection.name, email);
  return true;
}
