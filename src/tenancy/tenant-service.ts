/**
 * Tenant lifecycle: create (with its signing keys), rename, suspend, delete, and the
 * reserved tenants that must exist at start. Every change is published on the bus and
 * audited here, in the tenant's own log, as the request's actor: the same event whichever
 * door (API, /platform, /admin, CLI) it came through.
 */
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.ts';
import { badRequest, conflict } from '../core/errors.ts';
import type { Queryable } from '../storage/database.ts';
import type { Tenant, TenantStatus } from './tenant.ts';
import type { TenantStore } from './tenant-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { runAsTenant } from '../core/request-context.ts';
import { DEFAULT_TENANT, PLATFORM_TENANT, RESERVED_TENANT_IDS, isReservedSlug, isValidSlug } from './slug.ts';
import { BUILT_IN_ROLES } from './role-names.ts';
import type { TenantRoleStore } from './role-store.ts';

/**
 * What creating a tenant needs from the signing keys (oidc/signing-keys.ts): a fresh pair no
 * other tenant has (from the pool generated ahead of time, oidc/signing-key-pool.ts, or
 * generated then), written in the tenant's own insert transaction. Declared here so tenancy
 * does not depend on oidc, which is built on it.
 */
export interface InitialSigningKeys {
  takePair(): Promise<object[]>;
  insertCurrentPair(q: Queryable, tenantId: string, keys: object[]): Promise<void>;
}

/** Whether the tenant opted into the platform's public tenant picker (`features.tenant_picker`). */
function inTenantPicker(tenant: Pick<Tenant, 'config'>): boolean {
  const features = tenant.config.features;
  return Boolean(features && typeof features === 'object' && (features as Record<string, unknown>).tenant_picker === true);
}

/**
 * Told of tenant lifecycle changes inside the change's own platform transaction (webhooks/
 * implements it: the platform's outbox rows commit exactly with the change). Declared here
 * because the listener sits above tenancy; wired in services.ts.
 */
export interface TenantLifecycleListener {
  tenantChanged(type: 'tenant.created' | 'tenant.updated' | 'tenant.deleted', tenant: { id: string; slug: string; name: string; status?: string }, details?: Record<string, unknown>): Promise<void>;
}

export class TenantService {
  readonly #store: TenantStore;
  readonly #keys: InitialSigningKeys;
  readonly #bus: EventBus;
  readonly #log: Logger;
  readonly #audit: AuditLog;
  readonly #roles: Pick<TenantRoleStore, 'unknown'>;
  #listener: TenantLifecycleListener | undefined;

  constructor(store: TenantStore, keys: InitialSigningKeys, bus: EventBus, log: Logger, audit: AuditLog, roles: Pick<TenantRoleStore, 'unknown'>) {
    this.#store = store;
    this.#roles = roles;
    this.#keys = keys;
    this.#bus = bus;
    this.#log = log;
    this.#audit = audit;
  }

  listen(listener: TenantLifecycleListener): void {
    this.#listener = listener;
  }

  /** Records `action` in `tenant`'s own audit log (the deletion goes to the platform's: the tenant's log goes with it). */
  #record(tenant: Pick<Tenant, 'id' | 'slug'>, action: string, details: Record<string, unknown> = {}, target: string = tenant.slug, outcome: 'success' | 'failure' = 'success'): Promise<void> {
    return runAsTenant(tenant.id, () => this.#audit.record({ action, target, details, outcome }));
  }

  /** Creates a tenant with fresh signing keys. A retired slug needs `reuseRetiredSlug`. */
  async create(input: { slug: string; name: string; reuseRetiredSlug?: boolean }): Promise<Tenant> {
    if (!isValidSlug(input.slug)) throw badRequest('slug must match ^[a-z0-9][a-z0-9_-]{0,62}$', 'invalid_slug');
    if (isReservedSlug(input.slug)) throw badRequest(`slug "${input.slug}" is reserved`, 'invalid_slug');
    if (!input.reuseRetiredSlug && (await this.#store.isSlugRetired(input.slug))) {
      throw conflict(`slug "${input.slug}" belonged to a deleted tenant; pass reuse_retired_slug: true to reuse it`);
    }
    if (await this.#store.findBySlug(input.slug)) throw conflict(`a tenant with slug "${input.slug}" already exists`);
    const tenant = await this.#createWithKeys({ slug: input.slug, name: input.name });
    await this.#record(tenant, 'tenant.created', { name: tenant.name });
    return tenant;
  }

  async #createWithKeys(input: { id?: string; slug: string; name: string }): Promise<Tenant> {
    const keys = await this.#keys.takePair();
    const tenant = await this.#store.insert(input, async (q, tenantId) => {
      await this.#keys.insertCurrentPair(q, tenantId, keys);
      await this.#listener?.tenantChanged('tenant.created', { id: tenantId, slug: input.slug, name: input.name, status: 'active' });
    });
    await this.#bus.publish({ type: 'tenant.created', tenantId: tenant.id, slug: tenant.slug });
    this.#log.info({ tenant: tenant.slug }, 'tenant created');
    return tenant;
  }

  async update(tenant: Tenant, changes: { name?: string; status?: TenantStatus }): Promise<Tenant> {
    // Suspending a reserved tenant would lock the platform out of its own API.
    if (changes.status && changes.status !== tenant.status && (tenant.slug === DEFAULT_TENANT || tenant.slug === PLATFORM_TENANT)) {
      throw badRequest('reserved tenants cannot be suspended', 'reserved_tenant');
    }
    const updated = await this.#store.together('update tenant', async () => {
      const changed = await this.#store.update(tenant.id, changes);
      if (changed) await this.#listener?.tenantChanged('tenant.updated', changed, { fields: Object.keys(changes).filter((k) => changes[k as keyof typeof changes] !== undefined) });
      return changed;
    });
    if (!updated) throw conflict('the tenant was deleted meanwhile');
    await this.#bus.publish({ type: 'tenant.changed', tenantId: tenant.id, slug: tenant.slug });
    if (changes.name !== undefined && changes.name !== tenant.name) await this.#record(tenant, 'tenant.renamed', { from: tenant.name, to: changes.name });
    if (changes.status && changes.status !== tenant.status) await this.#record(tenant, changes.status === 'suspended' ? 'tenant.suspended' : 'tenant.reactivated');
    return updated;
  }

  /**
   * Replaces one section of the tenant's configuration overrides (an empty one removes it),
   * leaving the others as they are in the database; every instance rebuilds its Provider.
   */
  async updateConfig(tenant: Tenant, section: string, overrides: Record<string, unknown>): Promise<Tenant> {
    if (section === 'security') await this.#checkRoleSettings(tenant, overrides.roles);
    const updated = await this.#store.together('update tenant configuration', async () => {
      const changed = await this.#store.updateConfigSection(tenant.id, section, Object.keys(overrides).length ? overrides : undefined);
      if (changed) await this.#listener?.tenantChanged('tenant.updated', changed, { section });
      return changed;
    });
    if (!updated) throw conflict('the tenant was deleted meanwhile');
    await this.#bus.publish({ type: 'tenant.changed', tenantId: tenant.id, slug: tenant.slug });
    // A change of the public listing is said in the event, so it can be found in the trail.
    const listed = inTenantPicker(updated);
    await this.#record(tenant, 'tenant.config_changed', { section, ...(listed !== inTenantPicker(tenant) ? { tenant_picker: listed } : {}) });
    return updated;
  }

  /** `security.roles` may name only a built-in role or one the tenant defined (a 400 naming the field otherwise). */
  async #checkRoleSettings(tenant: Tenant, roles: unknown): Promise<void> {
    const named = Object.entries((roles ?? {}) as Record<string, string>).filter(([, name]) => !(BUILT_IN_ROLES as readonly string[]).includes(name));
    const unknown = new Set(await runAsTenant(tenant.id, () => this.#roles.unknown(named.map(([, name]) => name))));
    const bad = named.filter(([, name]) => unknown.has(name));
    if (bad.length) throw badRequest(bad.map(([field, name]) => `security.roles.${field}: unknown role "${name}"`).join('; '), 'unknown_role');
  }

  /**
   * Publishes that the tenant's custom domains changed (the caller bumped its version in
   * the same transaction): registries forget the tenant's host lookups, unknown hosts
   * included, and pooled Providers are rebuilt with the new issuer.
   */
  async domainsChanged(tenant: Pick<Tenant, 'id' | 'slug'>, change: { action: 'tenant.domain_added' | 'tenant.domain_primary_changed' | 'tenant.domain_primary_requested' | 'tenant.domain_verified' | 'tenant.domain_removed'; domain: string; details?: Record<string, unknown> }): Promise<void> {
    await this.#bus.publish({ type: 'tenant.changed', tenantId: tenant.id, slug: tenant.slug });
    await this.#record(tenant, change.action, change.details, change.domain);
    this.#log.info({ tenant: tenant.slug }, 'tenant custom domains changed');
  }

  /** A verification attempt that found no proof: nothing changed, but the attempt is audited. */
  domainVerificationFailed(tenant: Pick<Tenant, 'id' | 'slug'>, domain: string, error: string): Promise<void> {
    return this.#record(tenant, 'tenant.domain_verification_failed', { error }, domain, 'failure');
  }

  async delete(tenant: Tenant): Promise<void> {
    if (tenant.slug === DEFAULT_TENANT || tenant.slug === PLATFORM_TENANT) throw badRequest('reserved tenants cannot be deleted', 'reserved_tenant');
    await this.#store.together('delete tenant', async () => {
      if (await this.#store.delete(tenant.id)) await this.#listener?.tenantChanged('tenant.deleted', tenant);
    });
    await this.#bus.publish({ type: 'tenant.deleted', tenantId: tenant.id, slug: tenant.slug, domains: tenant.domains });
    await this.#record({ id: RESERVED_TENANT_IDS[PLATFORM_TENANT], slug: PLATFORM_TENANT }, 'tenant.deleted', { tenant_id: tenant.id, name: tenant.name }, tenant.slug);
    this.#log.info({ tenant: tenant.slug }, 'tenant deleted');
  }

  /**
   * Publishes that keys or clients changed so every instance rebuilds the Provider. The
   * stores already bumped the tenant version in the change's own transaction.
   */
  async touched(tenant: Pick<Tenant, 'id' | 'slug'>, event: 'keys.rotated' | { clientId: string }): Promise<void> {
    await this.#bus.publish(
      event === 'keys.rotated'
        ? { type: 'keys.rotated', tenantId: tenant.id, slug: tenant.slug }
        : { type: 'client.changed', tenantId: tenant.id, slug: tenant.slug, clientId: event.clientId },
    );
  }

  /** Creates `default` and `_platforms` if this is the first start. Safe to run on every start. */
  async ensureReservedTenants(): Promise<void> {
    for (const [slug, name] of [[DEFAULT_TENANT, 'Default'], [PLATFORM_TENANT, 'Platform']] as const) {
      if (await this.#store.findBySlug(slug)) continue;
      try {
        await this.#createWithKeys({ id: RESERVED_TENANT_IDS[slug], slug, name });
      } catch (err) {
        // Another instance starting at the same moment may have created it.
        if (!(await this.#store.findBySlug(slug))) throw err;
      }
    }
  }
}
