/**
 * A user's sessions and second factors through the management API:
 *   GET    /tenants/:slug/users/:id/sessions          the user's live sessions
 *   POST   /tenants/:slug/users/:id/sessions/revoke   sign the user out everywhere (counts)
 *   DELETE /tenants/:slug/users/:id/sessions          the same, 204
 *   POST   /tenants/:slug/users/:id/mfa/reset         remove every second factor (lost device)
 * Same scopes and tenant step-in as the other user routes (tenant-resource-routes.ts).
 */
import { matchesNetwork } from '../accounts/device-identity.ts';
import { z } from 'zod';
import type { Context } from 'koa';
import type { UserStore } from '../accounts/user-store.ts';
import { notFound } from '../core/errors.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import type { UserSessionService } from '../accounts/user-sessions.ts';
import { apiActor } from './authenticate.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { sessionSchema } from './api-schemas.ts';
import { targetTenant } from './target-tenant.ts';

export interface UserSessionRouteDeps {
  store: TenantStore;
  users: UserStore;
  userSessions: UserSessionService;
  mfa: MfaService;
}

const tag = 'Users';

export const listUserSessions = defineRoute({
  method: 'get', path: '/tenants/:slug/users/:id/sessions', operationId: 'listUserSessions', tag, summary: 'The user\'s live sessions',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'Sign-in and console sessions.', schema: z.object({ data: z.array(sessionSchema) }) } },
});
export const revokeUserSessions = defineRoute({
  method: 'post', path: '/tenants/:slug/users/:id/sessions/revoke', operationId: 'revokeUserSessions', tag, summary: 'Sign the user out everywhere (with counts)',
  scope: 'atrium:cross-tenant:write',
  responses: { 200: { description: 'How many sessions ended.', schema: z.object({ sign_ins: z.int(), console_sessions: z.int() }) } },
});
export const deleteUserSessions = defineRoute({
  method: 'delete', path: '/tenants/:slug/users/:id/sessions', operationId: 'deleteUserSessions', tag, summary: 'Sign the user out everywhere',
  scope: 'atrium:cross-tenant:write',
  responses: { 204: { description: 'Every session ended.' } },
});
export const resetUserMfa = defineRoute({
  method: 'post', path: '/tenants/:slug/users/:id/mfa/reset', operationId: 'resetUserMfa', tag, summary: 'Remove every second factor of the user (lost device)',
  scope: 'atrium:cross-tenant:write',
  responses: { 204: { description: 'Removed.' } },
});

export function mountUserSessionRoutes(routes: ApiRoutes, deps: UserSessionRouteDeps): void {
  const target = targetTenant(deps.store);
  const meta = (ctx: Context) => ({ actor: apiActor(ctx), ip: ctx.ip, userAgent: ctx.get('user-agent') });

  async function existingUser(ctx: Context): Promise<string> {
    const user = await deps.users.findById(String(ctx.params.id ?? ''));
    if (!user) throw notFound('no such user');
    return user.id;
  }

  routes.add(listUserSessions, [target], async function listUserSessions(ctx) {
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

  routes.add(revokeUserSessions, [target], async function revokeUserSessions(ctx) {
    const ended = await deps.userSessions.revokeAllSessions(await existingUser(ctx), meta(ctx));
    ctx.body = { sign_ins: ended.signIns, console_sessions: ended.consoleSessions };
  });

  routes.add(deleteUserSessions, [target], async function deleteUserSessions(ctx) {
    await deps.userSessions.revokeAllSessions(await existingUser(ctx), meta(ctx));
    ctx.status = 204;
  });

  routes.add(resetUserMfa, [target], async function resetUserMfa(ctx) {
    await deps.mfa.resetForUser(await existingUser(ctx), meta(ctx));
    ctx.status = 204;
  });
}
