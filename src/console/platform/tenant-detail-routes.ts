/**
 * /platform/tenants/:slug: one tenant at a glance (status, issuer, domains, counts, recent
 * audit events) and what a platform admin does to it: suspend, reactivate, delete (typed
 * confirmation), add, verify and remove custom domains, open its /admin.
 */
import type Router from '@koa/router';
import type { Context } from 'koa';
import { badRequest } from '../../core/errors.ts';
import { issuerFor, platformTenantSlug, type Tenant } from '../../tenancy/tenant.ts';
import { challengeFor } from '../../tenancy/domain-verification.ts';
import { formError, inTenant, peopleOf, renderPlatformPage, requirePlatformAdmin, targetTenant, type PlatformAdmin, type PlatformDeps } from './platform-console.ts';

const RECENT_EVENTS = 10;

async function renderDetail(deps: PlatformDeps, ctx: Context, admin: PlatformAdmin, tenant: Tenant, extra: { error?: string; domainValue?: string } = {}): Promise<void> {
  const [domains, users, clients, audit] = await inTenant(tenant, () =>
    Promise.all([
      deps.domains.list(),
      deps.users.list({ limit: 1, offset: 0 }),
      deps.clients.list({ limit: 1, offset: 0 }),
      deps.auditStore.list({ limit: RECENT_EVENTS }),
    ]),
  );
  const people = await peopleOf(ctx, deps, tenant, audit.events);
  await renderPlatformPage(ctx, 'tenant', admin, (t) => ({
    title: 'platform.tenant_title',
    heading: t('platform.tenant_heading', { name: tenant.name }),
    tenant,
    issuer: issuerFor(tenant, deps.config),
    isPlatform: tenant.slug === platformTenantSlug(deps.config),
    domains: domains.map((d) => ({ ...d, challenge: challengeFor(d) })),
    userCount: users.total,
    clientCount: clients.total,
    events: audit.events,
    people,
    error: extra.error,
    domainValue: extra.domainValue ?? '',
  }));
}

async function showTenant(deps: PlatformDeps, ctx: Context): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  await renderDetail(deps, ctx, admin, await targetTenant(ctx, deps));
}

/** One change from the detail page; a user error shows the page again with the message. */
type TenantChange = (deps: PlatformDeps, tenant: Tenant, form: URLSearchParams) => Promise<void>;

/** Runs a change from the detail page: on a user error, the page again with the message. */
async function change(deps: PlatformDeps, ctx: Context, action: TenantChange): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  const tenant = await targetTenant(ctx, deps);
  const form = await deps.consoleAuth.readForm(ctx, admin);
  try {
    await action(deps, tenant, form);
    ctx.status = 303;
    ctx.redirect(`/platform/tenants/${tenant.slug}`);
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    await renderDetail(deps, ctx, admin, (await deps.tenantStore.findById(tenant.id)) ?? tenant, { error: error.message, domainValue: form.get('domain') ?? '' });
  }
}

const changeStatus: TenantChange = async (deps, tenant, form) => {
  const status = form.get('status');
  if (status !== 'active' && status !== 'suspended') throw badRequest('status must be active or suspended');
  if (status === tenant.status) return;
  await deps.tenants.update(tenant, { status });
};

const addDomain: TenantChange = async (deps, tenant, form) => {
  await inTenant(tenant, () => deps.domains.add(tenant, { domain: (form.get('domain') ?? '').slice(0, 300), primary: form.get('primary') === 'on' }));
};

const domainOf = (form: URLSearchParams) => (form.get('domain') ?? '').trim().toLowerCase().slice(0, 300);

const verifyDomain: TenantChange = async (deps, tenant, form) => {
  await inTenant(tenant, () => deps.domains.verify(tenant, domainOf(form)));
};

const removeDomain: TenantChange = async (deps, tenant, form) => {
  await inTenant(tenant, () => deps.domains.remove(tenant, domainOf(form)));
};

async function openTenantAdmin(deps: PlatformDeps, ctx: Context): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  const tenant = await targetTenant(ctx, deps);
  await deps.consoleAuth.readForm(ctx, admin);
  ctx.status = 303;
  // On its own host the admin already is one: a hand-off would replace their session with a user-less one.
  if (tenant.slug === platformTenantSlug(deps.config)) return ctx.redirect('/admin');
  // The tenant's host starts the hand-off and binds it to this browser (console/console-handoff.ts).
  ctx.redirect(deps.consoleAuth.handoff.startUrl(tenant));
}

// Step 3 of the hand-off: the tenant's host sent this browser here with its binding; the
// code is minted on demand for the admin signed in here, lives one minute and works once.
async function mintHandoff(deps: PlatformDeps, ctx: Context): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  const tenant = await targetTenant(ctx, deps);
  if (tenant.slug === platformTenantSlug(deps.config)) return ctx.redirect('/admin');
  ctx.redirect(deps.consoleAuth.handoff.codeUrl(tenant, { id: admin.userId, email: admin.email }, typeof ctx.query.binding === 'string' ? ctx.query.binding : ''));
}

const renderDelete = (ctx: Context, admin: PlatformAdmin, tenant: Tenant, error?: string) =>
  renderPlatformPage(ctx, 'tenant-delete', admin, (t) => ({ title: 'platform.delete_title', heading: t('platform.delete_heading', { name: tenant.name }), tenant, error }));

async function confirmDelete(deps: PlatformDeps, ctx: Context): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  await renderDelete(ctx, admin, await targetTenant(ctx, deps));
}

async function deleteTenant(deps: PlatformDeps, ctx: Context): Promise<void> {
  const admin = requirePlatformAdmin(ctx, deps);
  if (!admin) return;
  const tenant = await targetTenant(ctx, deps);
  const form = await deps.consoleAuth.readForm(ctx, admin);
  try {
    if (form.get('confirm') !== tenant.slug) throw badRequest(`type the slug "${tenant.slug}" to confirm`, 'confirmation_required');
    await deps.tenants.delete(tenant);
  } catch (err) {
    const error = formError(err);
    ctx.status = error.status;
    return renderDelete(ctx, admin, tenant, error.message);
  }
  // The tenant's own audit log went with it: TenantService records the deletion in the platform's.
  ctx.status = 303;
  ctx.redirect(`/platform?${new URLSearchParams({ deleted: tenant.slug }).toString()}`);
}

export function mountTenantDetailRoutes(router: Router, deps: PlatformDeps): void {
  router.get('/tenants/:slug', (ctx) => showTenant(deps, ctx));
  router.post('/tenants/:slug/status', (ctx) => change(deps, ctx, changeStatus));
  router.post('/tenants/:slug/domains', (ctx) => change(deps, ctx, addDomain));
  router.post('/tenants/:slug/domains/verify', (ctx) => change(deps, ctx, verifyDomain));
  router.post('/tenants/:slug/domains/remove', (ctx) => change(deps, ctx, removeDomain));
  router.post('/tenants/:slug/admin', (ctx) => openTenantAdmin(deps, ctx));
  router.get('/tenants/:slug/handoff', (ctx) => mintHandoff(deps, ctx));
  router.get('/tenants/:slug/delete', (ctx) => confirmDelete(deps, ctx));
  router.post('/tenants/:slug/delete', (ctx) => deleteTenant(deps, ctx));
}
