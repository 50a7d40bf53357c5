/**
 * What every /admin page shares. /admin lives on each tenant's own host and runs in that
 * tenant's request context (set by the tenant middleware), so every store read or write
 * is under the tenant's row-level security. Access: the tenant's owners and admins, and a
 * platform admin handed off from /platform; a member gets 403, a visitor is sent to sign
 * in, and another tenant's console cookie is simply not a session here.
 */
import type { Context } from 'koa';
import type { Tenant } from '../../tenancy/tenant.ts';
import type { TenantService } from '../../tenancy/tenant-service.ts';
import type { TenantStore } from '../../tenancy/tenant-store.ts';
import type { AtriumConfig } from '../../config/env.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { AuditStore } from '../../audit/audit-store.ts';
import type { UserStore } from '../../accounts/user-store.ts';
import type { UserService } from '../../accounts/user-service.ts';
import type { UserSessionService } from '../../accounts/user-sessions.ts';
import type { LoginLockout } from '../../accounts/lockout.ts';
import type { MfaService } from '../../mfa/mfa-service.ts';
import type { ClientStore } from '../../oidc/client-store.ts';
import type { ClientService } from '../../oidc/client-service.ts';
import type { SigningKeyStore } from '../../oidc/signing-keys.ts';
import type { KeyLifecycle } from '../../oidc/key-lifecycle.ts';
import { consoleActor, isTenantAdmin, type ConsoleAuth, type ConsolePrincipal } from '../console-auth.ts';
import type { Translate } from '../../core/i18n.ts';
import { renderTenantPage } from '../../web/page.ts';
import type { RoleService } from '../../tenancy/role-service.ts';
import type { QuotaService } from '../../tenancy/quota-service.ts';
import { isBuiltInRole } from '../../tenancy/role-names.ts';
import type { WebhookService } from '../../webhooks/webhook-service.ts';

/** What the /admin pages use; the composition root (app.ts) hands them these from its services. */
export interface AdminDeps {
  config: AtriumConfig;
  consoleAuth: ConsoleAuth;
  box: SecretBox;
  tenants: TenantService;
  tenantStore: TenantStore;
  users: UserStore;
  userService: UserService;
  userSessions: UserSessionService;
  lockout: LoginLockout;
  mfa: MfaService;
  clients: ClientStore;
  clientService: ClientService;
  keys: SigningKeyStore;
  keyLifecycle: KeyLifecycle;
  auditStore: AuditStore;
  /** The tenant's custom roles (/admin/roles, and the choices on a user's page). */
  roles: RoleService;
  /** The quotas the platform set, shown against usage on the overview. */
  quotaService: QuotaService;
  /** The tenant's webhook subscriptions and their deliveries (/admin/webhooks). */
  webhooks: WebhookService;
}

/** Who made a change, for services that take it explicitly (MFA reset, sessions): the console actor. */
export function changeMeta(ctx: Context, principal: ConsolePrincipal) {
  const { id, ip, userAgent } = consoleActor(ctx, principal);
  return { actor: id, ip, userAgent };
}

/** The admin of this request, or undefined when the answer is already decided (sent to sign in). */
export function requireAdmin(ctx: Context, deps: AdminDeps): ConsolePrincipal | undefined {
  return deps.consoleAuth.require(ctx, isTenantAdmin);
}

/** Owners (and platform admins) may grant, remove or act on the owner role; admins may not. */
export function isOwnerOrPlatform(p: ConsolePrincipal): boolean {
  return p.platformAdmin || p.roles.includes('owner');
}

/** The tenant of this request. */
export const tenantOf = (ctx: Context) => ctx.state.tenant;

/** The tenant as stored now: a page right after a change must not show the cached record. */
export async function freshTenant(ctx: Context, deps: AdminDeps): Promise<Tenant> {
  return (await deps.tenantStore.findById(tenantOf(ctx).id)) ?? tenantOf(ctx);
}

export { cursorPager, cursorParam, formError, searchTerm } from '../console-forms.ts';

/** A notice named in `?done=` after a redirect, only from the page's own list. */
export function doneNotice(ctx: Context, allowed: readonly string[]): string | undefined {
  const done = ctx.query.done;
  return typeof done === 'string' && allowed.includes(done) ? done : undefined;
}

/** Ends a POST with a redirect to a page of /admin (303: the browser follows with a GET). */
export function seeOther(ctx: Context, path: string): void {
  ctx.status = 303;
  ctx.redirect(path);
}

type Locals = Record<string, unknown> & { title: string };

/**
 * Renders a views/console/admin/ page: wide, with the admin and the current area for the
 * navigation, and the flash a POST left for this page (shown once, console-flash.ts).
 */
export async function renderAdminPage(ctx: Context, view: string, principal: ConsolePrincipal, area: string, locals: Locals | ((t: Translate) => Locals)): Promise<void> {
  // A built-in role by its translated name, a custom role by its own.
  const roleLabel = (t: Translate) => (role: string) => (isBuiltInRole(role) ? t(`admin.role_${role}`) : role);
  const flash = await ctx.state.consoleFlash?.take(ctx, principal);
  await renderTenantPage(ctx, `console/admin/${view}`, (t) => ({ wide: true, principal, area, flash, roleLabel: roleLabel(t), ...(typeof locals === 'function' ? locals(t) : locals) }));
}
