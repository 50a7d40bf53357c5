/**
 * /admin/users: list and search the tenant's users, create one, assign roles, disable or
 * enable, delete, reset their second factors, lift a sign-in lockout, sign them out
 * everywhere. Changes go through the same UserService as the management API (password
 * policy, unique email); on top of it the pages refuse to leave the tenant without an
 * active owner, let only owners touch the owner role, and keep an admin from locking
 * themselves out.
 */
import { decodeListCursor, encodeListCursor } from '../../storage/list-cursor.ts';
import type { Direction, Position } from '../../storage/keyset.ts';
import { matchesNetwork } from '../../accounts/device-identity.ts';
import type Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import { TENANT_ROLES, PLATFORM_ROLES } from '../../accounts/user-service.ts';
import type { User } from '../../accounts/user-store.ts';
import { parseInput } from '../../core/validation.ts';
import { badRequest, forbidden, notFound } from '../../core/errors.ts';
import type { ConsolePrincipal } from '../console-auth.ts';
import { changeMeta, cursorPager, cursorParam, doneNotice, formError, isOwnerOrPlatform, renderAdminPage, requireAdmin, searchTerm, seeOther, tenantOf, type AdminDeps } from './admin-console.ts';

const PAGE_SIZE = 25;
const NOTICES = ['created', 'roles', 'disabled', 'enabled', 'deleted', 'mfa_reset', 'unlocked', 'signed_out'] as const;

const createSchema = z.strictObject({
  email: z.email().max(320),
  name: z.string().trim().max(200).optional(),
  password: z.string().max(1024).optional(),
  // None ticked: the tenant's security.roles default (user-store.ts). Which names exist is the user service's check.
  roles: z.array(z.string().max(64)).max(50),
  email_verified: z.boolean(),
});

/** The roles ticked on a form, only tenant roles. */
function tickedRoles(form: URLSearchParams): string[] {
  return [...new Set(form.getAll('roles'))];
}

/** Roles this admin may set: an admin who is not an owner can neither grant nor remove `owner`. */
function checkOwnerRole(principal: ConsolePrincipal, before: readonly string[], after: readonly string[]): void {
  if (!isOwnerOrPlatform(principal) && before.includes('owner') !== after.includes('owner')) {
    throw forbidden('only an owner can grant or remove the owner role', 'forbidden');
  }
}

async function userParam(ctx: Context, deps: AdminDeps): Promise<User> {
  const user = await deps.users.findById(String(ctx.params.id ?? ''));
  if (!user) throw notFound('no such user');
  return user;
}

/** The roles an admin can tick: the built-in ones, then the tenant's own. */
async function roleChoices(deps: AdminDeps): Promise<string[]> {
  return [...TENANT_ROLES, ...(await deps.roles.list()).map((r) => r.name)];
}

async function renderNew(deps: AdminDeps, ctx: Context, principal: ConsolePrincipal, values: Record<string, unknown> = {}, error?: string): Promise<void> {
  await renderAdminPage(ctx, 'user-new', principal, 'users', { title: 'admin.user_new_title', values: { roles: [], ...values }, roles: await roleChoices(deps), canOwn: isOwnerOrPlatform(principal), error });
}

async function renderUser(deps: AdminDeps, ctx: Context, principal: ConsolePrincipal, user: User, error?: string): Promise<void> {
  const [mfa, sessions, lockout] = await Promise.all([deps.mfa.status(user.id), deps.userSessions.list(user.id, {}, matchesNetwork(ctx.state.tenant)), deps.lockout.status(user)]);
  await renderAdminPage(ctx, 'user', principal, 'users', {
    title: 'admin.user_title',
    user,
    mfa: { totp: mfa.totp, passkeys: mfa.passkeys.length, recoveryCodesLeft: mfa.recoveryCodesLeft, enrolled: mfa.enrolled },
    sessionCount: sessions.length,
    lockout,
    roles: await roleChoices(deps),
    canOwn: isOwnerOrPlatform(principal),
    self: principal.userId === user.id,
    done: doneNotice(ctx, NOTICES),
    error,
  });
}

async function listUsers(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const search = searchTerm(ctx.query.q);
  const tenantId = tenantOf(ctx).id;
  const cursor = cursorParam(ctx.query.cursor);
  // Keyset paging (storage/keyset.ts): a cursor this list did not give is a 400 naming it.
  const from = cursor === undefined ? undefined : decodeListCursor('users', tenantId, cursor);
  const { users, total, next, previous } = await deps.users.list({ limit: PAGE_SIZE, from, search: search || undefined });
  const link = (direction: Direction, at: Position | undefined) => at && encodeListCursor('users', tenantId, direction, at);
  await renderAdminPage(ctx, 'users', principal, 'users', {
    title: 'admin.users_title',
    users,
    search,
    done: doneNotice(ctx, NOTICES),
    paging: cursorPager('/admin/users', total, { prev: link('before', previous), next: link('after', next) }, search ? { q: search } : {}),
  });
}

async function newUser(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderNew(deps, ctx, principal);
}

async function createUser(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const values = { email: (form.get('email') ?? '').trim(), name: (form.get('name') ?? '').trim(), roles: tickedRoles(form), email_verified: form.get('email_verified') === 'on' };
  let user: User;
  try {
    const input = parseInput(createSchema, { ...values, name: values.name || undefined, password: form.get('password') || undefined });
    checkOwnerRole(principal, [], input.roles);
    const roles = input.roles.length ? input.roles : undefined;
    user = await deps.userService.create(tenantOf(ctx), { email: input.email, name: input.name ?? null, password: input.password, roles, emailVerified: input.email_verified });
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderNew(deps, ctx, principal, values, error.message);
  }
  seeOther(ctx, `/admin/users/${user.id}?done=created`);
}

async function showUser(deps: AdminDeps, ctx: Context): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  await renderUser(deps, ctx, principal, await userParam(ctx, deps));
}

/** One change of a user: what it did (the notice), or an error that re-renders the user's page. */
type UserChange = (deps: AdminDeps, ctx: Context, principal: ConsolePrincipal, user: User, form: URLSearchParams) => Promise<string>;

/** Runs one change of a user; a refused change re-renders the user's page with the reason. */
async function change(deps: AdminDeps, ctx: Context, action: UserChange): Promise<void> {
  const principal = requireAdmin(ctx, deps);
  if (!principal) return;
  const form = await deps.consoleAuth.readForm(ctx, principal);
  const user = await userParam(ctx, deps);
  let done: string;
  try {
    done = await action(deps, ctx, principal, user, form);
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderUser(deps, ctx, principal, user, error.message);
  }
  seeOther(ctx, done === 'deleted' ? '/admin/users?done=deleted' : `/admin/users/${user.id}?done=${done}`);
}

const setRoles: UserChange = async (deps, ctx, principal, user, form) => {
  const tenantRoles = tickedRoles(form);
  if (tenantRoles.length === 0) throw badRequest('roles: choose at least one role');
  // platform_admin (on the platform tenant) is not on this form: it is kept as it is. An unknown role is the user service's 400.
  const roles = [...user.roles.filter((r) => (PLATFORM_ROLES as readonly string[]).includes(r)), ...tenantRoles];
  checkOwnerRole(principal, user.roles, roles);
  await deps.userService.update(tenantOf(ctx), user.id, { roles });
  return 'roles';
};

const setStatus: UserChange = async (deps, ctx, principal, user, form) => {
  const status = form.get('status');
  if (status !== 'active' && status !== 'disabled') throw badRequest('status: must be active or disabled');
  if (status === 'disabled' && principal.userId === user.id) throw badRequest('you cannot disable your own account');
  if (user.roles.includes('owner') && !isOwnerOrPlatform(principal)) throw forbidden('only an owner can disable or enable an owner', 'forbidden');
  await deps.userService.update(tenantOf(ctx), user.id, { status });
  // A disabled user's sign-ins end at once: at the tenant (so no silent re-authorization) and on these pages.
  if (status === 'disabled') await deps.userSessions.revokeAllSessions(user.id, changeMeta(ctx, principal));
  return status === 'disabled' ? 'disabled' : 'enabled';
};

const deleteUser: UserChange = async (deps, ctx, principal, user, form) => {
  if (form.get('confirm') !== 'on') throw badRequest('tick the box to confirm the deletion');
  if (principal.userId === user.id) throw badRequest('you cannot delete your own account here');
  if (user.roles.includes('owner') && !isOwnerOrPlatform(principal)) throw forbidden('only an owner can delete an owner', 'forbidden');
  await deps.userService.delete(user.id);
  await deps.consoleAuth.sessions.deleteForUser(user.id);
  return 'deleted';
};

// Reset MFA: for a user who lost their device. They enrol again at their next sign-in if the policy requires it.
const resetMfa: UserChange = async (deps, ctx, principal, user) => {
  if (user.roles.includes('owner') && !isOwnerOrPlatform(principal)) throw forbidden("only an owner can reset an owner's second factors", 'forbidden');
  await deps.mfa.resetForUser(user.id, changeMeta(ctx, principal));
  return 'mfa_reset';
};

const unlock: UserChange = async (deps, ctx, principal, user) => {
  await deps.lockout.unlock(user);
  return 'unlocked';
};

const signOutEverywhere: UserChange = async (deps, ctx, principal, user) => {
  if (principal.userId === user.id) throw badRequest('sign yourself out of other devices from your account page');
  await deps.userSessions.revokeAllSessions(user.id, changeMeta(ctx, principal));
  return 'signed_out';
};

export function mountUserRoutes(router: Router, deps: AdminDeps): void {
  router.get('/users', (ctx) => listUsers(deps, ctx));
  router.get('/users/new', (ctx) => newUser(deps, ctx));
  router.post('/users', (ctx) => createUser(deps, ctx));
  router.get('/users/:id', (ctx) => showUser(deps, ctx));
  router.post('/users/:id/roles', (ctx) => change(deps, ctx, setRoles));
  router.post('/users/:id/status', (ctx) => change(deps, ctx, setStatus));
  router.post('/users/:id/delete', (ctx) => change(deps, ctx, deleteUser));
  router.post('/users/:id/mfa/reset', (ctx) => change(deps, ctx, resetMfa));
  router.post('/users/:id/unlock', (ctx) => change(deps, ctx, unlock));
  router.post('/users/:id/sessions/revoke', (ctx) => change(deps, ctx, signOutEverywhere));
}
