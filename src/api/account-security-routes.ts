/**
 * /api/v1/tenants/:slug/invitations and /users/:id/{lockout,unlock}: inviting people and
 * lifting sign-in lockouts, under the target tenant's row-level security.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import type { AccountRecovery } from '../account-recovery/account-recovery.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import type { RoleService } from '../tenancy/role-service.ts';
import type { User, UserStore } from '../accounts/user-store.ts';
import { readJson } from '../web/body.ts';
import { notFound } from '../core/errors.ts';
import type { TenantStore } from '../tenancy/tenant-store.ts';
import { apiActor, requireScope } from './authenticate.ts';
import { userJson } from './serialize.ts';
import { targetTenant } from './target-tenant.ts';
import { parseInput } from '../core/validation.ts';

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

export function mountAccountSecurityRoutes(router: Router, deps: AccountSecurityApiDeps): void {
  const target = targetTenant(deps.store);
  const read = [requireScope('atrium:cross-tenant:read'), target];
  const write = [requireScope('atrium:cross-tenant:write'), target];
  
  async function userOf(ctx: Context): Promise<User> {
    const user = await deps.users.findById(String(ctx.params.id ?? ''));
    if (!user) throw notFound('no such user');
    return user;
  }

  router.post('/tenants/:slug/invitations', ...write, async function inviteUser(ctx) {
    const input = parseInput(invitationSchema, await readJson(ctx));
    if (input.roles) await deps.roles.checkAssignable(ctx.state.target, input.roles);
    const { user, expiresAt, mailSent } = await deps.recovery.invite(ctx.state.target, input, apiActor(ctx), input.locale);
    ctx.status = 201;
    ctx.body = { user: userJson(user), expires_at: expiresAt.toISOString(), mail_sent: mailSent };
  });

  router.get('/tenants/:slug/users/:id/lockout', ...read, async function getLockout(ctx) {
    const user = await userOf(ctx);
    ctx.body = lockoutJson(user.id, await deps.lockout.status(user));
  });

  router.post('/tenants/:slug/users/:id/unlock', ...write, async function unlockUser(ctx) {
    const user = await userOf(ctx);
    await deps.lockout.unlock(user);
    // The record is gone: nothing to read back.
    ctx.body = lockoutJson(user.id, { failedAttempts: 0, lockouts: 0, lockedUntil: null });
  });
}
