/**
 * A user's sessions and second factors through the management API:
 *   GET    /tenants/:slug/users/:id/sessions          the user's live sessions
 *   POST   /tenants/:slug/users/:id/sessions/revoke   sign the user out everywhere (counts)
 *   DELETE /tenants/:slug/users/:id/sessions          the same, 204
 *   POST   /tenants/:slug/users/:id/mfa/reset         remove every second factor (lost device)
 * Same scopes and tenant step-in as the other user routes (tenant-resource-routes.ts).
 */
import { matchesNetwork } from '../accounts/device-identity.ts';
import type Router from '@koa/router';
import type { Context } from 'koa';
import type { UserStore } from '../accounts/user-store.ts';
import { notFound } from '../core/errors.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import type { UserSessionService } from '../accounts/user-sessions.ts';
import { apiActor, requireScope } from './authenticate.ts';
import { targetTenant } from './target-tenant.ts';

export interface UserSessionRouteDeps {
  store: TenantStore;
  users: UserStore;
  userSessions: UserSessionService;
  mfa: MfaService;
}

export function mountUserSessionRoutes(router: Router, deps: UserSessionRouteDeps): void {
  const target = targetTenant(deps.store);
  const read = [requireScope('atrium:cross-tenant:read'), target];
  const write = [requireScope('atrium:cross-tenant:write'), target];
  const meta = (ctx: Context) => ({ actor: apiActor(ctx), ip: ctx.ip, userAgent: ctx.get('user-agent') });

  async function existingUser(ctx: Context): Promise<string> {
    const user = await deps.users.findById(String(ctx.params.id ?? ''));
    if (!user) throw notFound('no such user');
    return user.id;
  }

  router.get('/tenants/:slug/users/:id/sessions', ...read, async function listUserSessions(ctx) {
    const sessions = await deps.userSessions.list(await existingUser(ctx), {}, matchesNetwork(ctx.state.target));
    ctx.body = {
      data: sessions.map((s) => ({
        id: s.id,
        kind: s.kind,
        device: s.device,
        ip: s.ip,
        amr: s.amr,
        created_at: s.createdAt?.toISOString() ?? null,
        last_seen_at: s.lastSeenAt?.toISOString() ?? null,
      })),
    };
  });

  router.post('/tenants/:slug/users/:id/sessions/revoke', ...write, async function revokeUserSessions(ctx) {
    const ended = await deps.userSessions.revokeAllSessions(await existingUser(ctx), meta(ctx));
    ctx.body = { sign_ins: ended.signIns, console_sessions: ended.consoleSessions };
  });

  router.delete('/tenants/:slug/users/:id/sessions', ...write, async function deleteUserSessions(ctx) {
    await deps.userSessions.revokeAllSessions(await existingUser(ctx), meta(ctx));
    ctx.status = 204;
  });

  router.post('/tenants/:slug/users/:id/mfa/reset', ...write, async function resetUserMfa(ctx) {
    await deps.mfa.resetForUser(await existingUser(ctx), meta(ctx));
    ctx.status = 204;
  });
}
