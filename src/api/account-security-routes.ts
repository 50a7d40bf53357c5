/**
 * /api/v1/tenants/:slug/invitations and /users/:id/{lockout,unlock}: inviting people and
 * lifting sign-in lockouts, under the target tenant's row-level security.
 */
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountRecovery } from '../account-recovery/account-recovery.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import type { RoleService } from '../tenancy/role-service.ts';
import type { User, UserStore } from '../accounts/user-store.ts';
import { notFound } from '../core/errors.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { apiActor } from './authenticate.ts';
import { defineRoute, type ApiRoutes } from './route-contract.ts';
import { lockoutSchema, userSchema } from './api-schemas.ts';
import { userJson } from './serialize.ts';
import { targetTenant } from './target-tenant.ts';

export interface AccountSecurityApiDeps {
  store: TenantStore;
  users: UserStore;
  recovery: AccountRecovery;
  lockout: LoginLockout;
  roles: Pick<RoleService, 'checkAssignable'>;
}

const invitationSchema = z.strictObject({
  email: z.email().max(320).transform((v) => v.trim()),
  name: z.string().trim().max(200).nullable().optional(),
  roles: z.array(z.string().max(64)).max(10).optional(),
  locale: z.string().regex(/^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/).optional(),
});

const lockoutJson = (userId: string, status: Awaited<ReturnType<LoginLockout['status']>>) => ({
  user_id: userId,
  locked: status.lockedUntil !== null,
  locked_until: status.lockedUntil?.toISOString() ?? null,
  failed_attempts: status.failedAttempts,
  lockouts: status.lockouts,
});

export const inviteUser = defineRoute({
  method: 'post', path: '/tenants/:slug/invitations', operationId: 'inviteUser', tag: 'Users', summary: 'Invite someone: a user and an invitation link by mail',
  scope: 'atrium:cross-tenant:write', body: invitationSchema, errors: [409],
  responses: { 201: { description: 'The invited user, when the link expires and whether the mail went.', schema: z.object({ user: userSchema, expires_at: z.iso.datetime({ offset: true }), mail_sent: z.boolean() }) } },
});
export const getLockout = defineRoute({
  method: 'get', path: '/tenants/:slug/users/:id/lockout', operationId: 'getUserLockout', tag: 'Users', summary: 'The user\'s sign-in lockout status',
  scope: 'atrium:cross-tenant:read',
  responses: { 200: { description: 'Failed attempts and any lockout in force.', schema: lockoutSchema } },
});
export const unlockUser = defineRoute({
  method: 'post', path: '/tenants/:slug/users/:id/unlock', operationId: 'unlockUser', tag: 'Users', summary: 'Lift the user\'s sign-in lockout',
  scope: 'atrium:cross-tenant:write',
  responses: { 200: { description: 'The status after unlocking.', schema: lockoutSchema } },
});

export function mountAccountSecurityRoutes(routes: ApiRoutes, deps: AccountSecurityApiDeps): void {
  const target = targetTenant(deps.store);

  async function userOf(ctx: Context): Promise<User> {
    const user = await deps.users.findById(String(ctx.params.id ?? ''));
    if (!user) throw notFound('no such user');
    return user;
  }

  routes.add(inviteUser, [target], async function inviteUser(ctx, { body: input }) {
    if (input.roles) await deps.roles.checkAssignable(ctx.state.target, input.roles);
    const { user, expiresAt, mailSent } = await deps.recovery.invite(ctx.state.target, input, apiActor(ctx), input.locale);
    ctx.status = 201;
    ctx.body = { user: userJson(user), expires_at: expiresAt.toISOString(), mail_sent: mailSent };
  });

  routes.add(getLockout, [target], async function getLockout(ctx) {
    const user = await userOf(ctx);
    ctx.body = lockoutJson(user.id, await deps.lockout.status(user));
  });

  routes.add(unlockUser, [target], async function unlockUser(ctx) {
    const user = await userOf(ctx);
    await deps.lockout.unlock(user);
    // The record is gone: nothing to read back.
    ctx.body = lockoutJson(user.id, { failedAttempts: 0, lockouts: 0, lockedUntil: null });
  });
}
