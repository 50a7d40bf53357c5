/**
 * What every /platform page shares: the page exists only on the platform tenant's host,
 * only for platform admins; a tenant it acts on is loaded by slug and every read or change
 * of that tenant's data runs inside it (`runAsTenant`), under its row-level security.
 */
import type { QuotaService } from '../../tenancy/quota-service.ts';
import type { PlatformConfig } from '../../tenancy/platform-config.ts';
import type { Context } from 'koa';
import { findTargetTenant } from '../../api/target-tenant.ts';
import type { AtriumConfig } from '../../config/env.ts';
import type { SecretBox } from '../../core/secret-box.ts';
import type { AuditEvent, AuditStore } from '../../audit/audit-store.ts';
import { auditPeople, type AuditPerson } from '../audit-people.ts';
import type { TenantService } from '../../tenancy/tenant-service.ts';
import type { TenantStore } from '../../tenancy/tenant-store.ts';
import type { DomainService } from '../../tenancy/domain-service.ts';
import type { UserStore } from '../../accounts/user-store.ts';
import type { ClientStore } from '../../oidc/client-store.ts';
import { notFound } from '../../core/errors.ts';
import { currentContext, runAsTenant } from '../../core/request-context.ts';
import { platformTenantSlug, type Tenant } from '../../tenancy/tenant.ts';
import type { ConsoleAuth, ConsolePrincipal } from '../console-auth.ts';
import { renderTenantPage } from '../../web/page.ts';
import type { Translate } from '../../core/i18n.ts';

/** What the /platform pages use; the composition root (app.ts) hands them these from its services. */
export interface PlatformDeps {
  config: AtriumConfig;
  consoleAuth: ConsoleAuth;
  box: SecretBox;
  tenants: TenantService;
  tenantStore: TenantStore;
  domains: DomainService;
  users: UserStore;
  clients: ClientStore;
  auditStore: AuditStore;
  /** Tenants' quotas and usage (/platform/tenants/:slug/quotas). */
  quotaService: QuotaService;
  /** The operator's policy above the tenants (/platform/policy). */
  platformConfig: PlatformConfig;
}

/** A signed-in platform admin on the platform host (their user id is never null there). */
export interface PlatformAdmin extends ConsolePrincipal {
  userId: string;
}

/**
 * The platform admin of this request, or undefined when the response is already decided
 * (a redirect to sign in). Another tenant's host answers 404 before anything else, so
 * /platform cannot even be probed there; a user who is not a platform admin gets 403.
 */
export function requirePlatformAdmin(ctx: Context, deps: PlatformDeps): PlatformAdmin | undefined {
  if ((ctx.state.tenant).slug !== platformTenantSlug(deps.config)) throw notFound('no such page');
  const principal = deps.consoleAuth.require(ctx, (p) => p.platformAdmin && p.userId !== null);
  // On /platform the admin acts as the platform: audited as `platform:<user id>` in the tenant acted on.
  const context = currentContext();
  if (principal && context) context.actor = { type: 'platform_admin', id: `platform:${principal.userId}`, email: principal.email, ip: ctx.ip, userAgent: ctx.get('user-agent') };
  return principal as PlatformAdmin | undefined;
}

/** The tenant named by `:slug`, found as the management API finds it. */
export function targetTenant(ctx: Context, deps: PlatformDeps): Promise<Tenant> {
  return findTargetTenant(ctx, deps.tenantStore);
}

/** Runs `fn` as `tenant`: its stores, and its audit log, see only that tenant's rows. */
export function inTenant<T>(tenant: Pick<Tenant, 'id'>, fn: () => Promise<T>): Promise<T> {
  return runAsTenant(tenant.id, fn);
}

export { cursorPager, cursorParam, formError, searchTerm } from '../console-forms.ts';

/** The people an audit page of `tenant` names (its users, and platform admins from this host's tenant), by name and email. */
export function peopleOf(ctx: Context, deps: PlatformDeps, tenant: Tenant, events: readonly AuditEvent[]): Promise<Map<string, AuditPerson>> {
  return auditPeople(events, (ids) => inTenant(tenant, () => deps.users.peopleByIds(ids)), (ids) => inTenant(ctx.state.tenant, () => deps.users.peopleByIds(ids)));
}

type Locals = Record<string, unknown> & { title: string };

/** Renders a views/console/platform/ page, wide, with the admin for the navigation. */
export async function renderPlatformPage(ctx: Context, view: string, admin: PlatformAdmin, locals: Locals | ((t: Translate) => Locals)): Promise<void> {
  // The flash a POST left for this page (console-flash.ts) is shown once.
  const flash = await ctx.state.consoleFlash?.take(ctx, admin);
  await renderTenantPage(ctx, `console/platform/${view}`, (t) => ({ wide: true, principal: admin, flash, ...(typeof locals === 'function' ? locals(t) : locals) }));
}
