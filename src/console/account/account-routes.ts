/**
 * The signed-in user's own page on the tenant's host (`/account`): profile and password
 * (profile-routes.ts), second factors: authenticator app, recovery codes, passkeys
 * (mfa-device-routes.ts), sessions (session-routes.ts), and the phone number for text alerts (phone-routes.ts). Sign-in and sign-out are
 * console-sign-in.ts. Every form posts the console session's CSRF token; every change is
 * audited (MFA changes by MfaService, which also announces them). A change of credentials
 * needs a recent authentication first (reauthentication.ts) and mails the user.
 */
import Router from '@koa/router';
import { Reauthentication } from '../reauthentication.ts';
import type { AccountDeps, AccountPages } from './account-page.ts';
import { mountMfaDeviceRoutes } from './mfa-device-routes.ts';
import { mountProfileRoutes } from './profile-routes.ts';
import { mountSessionRoutes } from './session-routes.ts';
import { mountPhoneRoutes } from './phone-routes.ts';

export type { AccountDeps } from './account-page.ts';

export function accountRoutes(deps: AccountDeps): Router {
  const router = new Router({ prefix: '/account' });
  const { consoleAuth } = deps;
  const reauth = new Reauthentication({ users: deps.users, mfa: deps.mfa, lockout: deps.lockout, rateLimiter: deps.rateLimiter, sessions: consoleAuth.sessions, audit: deps.audit });
  const pages: AccountPages = {
    ...deps,
    recentForm: async (ctx, principal) => reauth.confirm(ctx, principal, await consoleAuth.readForm(ctx, principal)),
  };
  mountProfileRoutes(router, pages);
  mountMfaDeviceRoutes(router, pages);
  mountSessionRoutes(router, pages);
  mountPhoneRoutes(router, pages);
  return router;
}
