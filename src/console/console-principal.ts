/**
 * Who is using a console page (/account, /admin, /platform) and what follows from it: the
 * principal a console session stands for, its audit actor, the admin test, and the only
 * places a sign-in may return to. Shared by console-auth.ts and console-sign-in.ts.
 */
import type { Context } from 'koa';
import type { Actor } from '../core/request-context.ts';

export interface ConsolePrincipal {
  sessionIdHash: string;
  /** The tenant user; null for a platform admin visiting through a hand-off. */
  userId: string | null;
  email: string;
  name: string | null;
  /** The user's roles in this tenant, read afresh on every request. */
  roles: readonly string[];
  /** A platform admin (on the platform host, or handed off to this tenant's /admin). */
  platformAdmin: boolean;
  /** The platform admin's user id (in the platform tenant) when handed off to this tenant. */
  platformAdminId?: string;
  amr: readonly string[];
  /** When the user last proved who they are with `amr` (reauthentication.ts); null if unknown. */
  authenticatedAt: Date | null;
  /** The tenant sign-in (oidc-provider session) this console session came from. */
  oidcSessionUid: string | null;
  /** The CSRF token every console form must carry in a `csrf` field. */
  csrf: string;
  /** Where a platform admin's /platform is (another host for a handed-off admin); absent for everyone else. */
  platformConsoleUrl?: string;
  /** A one-time result waits on the session for its page (console-flash.ts); cleared once taken. */
  hasFlash: boolean;
}

/** The audit actor of a console user: their id, or `platform:<id>` for a handed-off platform admin. */
export function consoleActor(ctx: Context, p: ConsolePrincipal): Actor {
  return {
    type: p.userId ? 'user' : 'platform_admin',
    id: p.userId ?? `platform:${p.platformAdminId ?? p.email}`,
    email: p.email,
    ip: ctx.ip,
    userAgent: ctx.get('user-agent'),
  };
}

export const isTenantAdmin = (p: ConsolePrincipal) => p.platformAdmin || p.roles.includes('owner') || p.roles.includes('admin');

/** Only paths of Atrium's own pages; anything else (an absolute URL, `//host`) would be an open redirect. */
export function safeReturnTo(value: unknown, fallback = '/account'): string {
  return typeof value === 'string' && /^\/(account|admin|platform)(?:[/?#]|$)/.test(value) && !value.includes('\\') ? value : fallback;
}

