/**
 * What every /platform page shares: the page exists only on the platform tenant's host,
 * only for platform admins; a tenant it acts on is loaded by slug and every read or change
 * of that tenant's data runs inside it (`runAsTenant`), under its row-level security.
 */
import type { Context } from 'koa';
import type { Services } from '../services.ts';
import { notFound } from '../http/errors.ts';
import { runAsTenant } from '../tenancy/request-context.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT, SLUG_PATTERN } from '../tenancy/slug.ts';
import { platformTenantSlug, type Tenant } from '../tenancy/tenant.ts';
import type { ConsolePrincipal } from '../web/console-auth.ts';
import { renderTenantPage } from '../web/page.ts';
import type { Translate } from '../web/i18n.ts';

export type PlatformDeps = Pick<Services, 'config' | 'tenants' | 'tenantStore' | 'users' | 'userService' | 'clients' | 'domains' | 'auditStore' | 'audit' | 'box' | 'consoleAuth'>;

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
  if ((ctx.state.tenant as Tenant).slug !== platformTenantSlug(deps.config)) throw notFound('no such page');
  const principal = deps.consoleAuth.require(ctx, (p) => p.platformAdmin && p.userId !== null);
  return principal as PlatformAdmin | undefined;
}

/** The tenant named by `:slug`; a slug no tenant could have is simply not found. */
export async function targetTenant(ctx: Context, deps: PlatformDeps): Promise<Tenant> {
  const slug = String(ctx.params.slug ?? '');
  const valid = SLUG_PATTERN.test(slug) || slug === PLATFORM_TENANT || slug === DEFAULT_TENANT;
  const tenant = valid ? await deps.tenantStore.findBySlug(slug) : undefined;
  if (!tenant) throw notFound(`no tenant with slug "${slug.slice(0, 64)}"`);
  return tenant;
}

/** Runs `fn` as `tenant`: its stores, and its audit log, see only that tenant's rows. */
export function inTenant<T>(tenant: Pick<Tenant, 'id'>, fn: () => Promise<T>): Promise<T> {
  return runAsTenant(tenant.id, fn);
}

/** Records a /platform change in `tenant`'s own audit log, by `platform:<admin user id>`. */
export function auditIn(ctx: Context, deps: PlatformDeps, tenant: Pick<Tenant, 'id'>, admin: PlatformAdmin, action: string, target: string, details: Record<string, unknown> = {}): Promise<void> {
  return inTenant(tenant, () =>
    deps.audit.record({ action, actor: `platform:${admin.userId}`, target, ip: ctx.ip, userAgent: ctx.get('user-agent'), details: { ...details, admin_email: admin.email } }),
  );
}

export { formError, pageNumber } from '../web/console-forms.ts';

/** A short search term from `?q=`. */
export function searchTerm(value: unknown): string {
  return typeof value === 'string' ? value.trim().slice(0, 200) : '';
}

/** Links for the previous and next page of a list, keeping the search. */
export function pager(basePath: string, page: number, pageSize: number, total: number, search: string) {
  const href = (p: number) => `${basePath}?${new URLSearchParams({ ...(search ? { q: search } : {}), page: String(p) }).toString()}`;
  const pages = Math.max(1, Math.ceil(total / pageSize));
  return { page, pages, total, prev: page > 1 ? href(page - 1) : null, next: page < pages ? href(page + 1) : null };
}

type Locals = Record<string, unknown> & { title: string };

/** Renders a views/platform/ page, wide, with the admin for the navigation. */
export function renderPlatformPage(ctx: Context, view: string, admin: PlatformAdmin, locals: Locals | ((t: Translate) => Locals)): Promise<void> {
  return renderTenantPage(ctx, `platform/${view}`, (t) => ({ wide: true, principal: admin, ...(typeof locals === 'function' ? locals(t) : locals) }));
}
