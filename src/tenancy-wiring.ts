/** Wiring of the stores, the tenant registry and the operator's policy (split from services.ts, which builds the rest). */
import { ConsoleSessionStore } from './accounts/console-session-store.ts';
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/env.ts';
import type { Database } from './storage/database.ts';
import { type EventBus } from './events/bus.ts';
import type { SecretBox } from './core/secret-box.ts';
import { AuditLog } from './audit/audit-log.ts';
import { TenantStore } from './tenancy/tenant-store.ts';
import { PlatformConfig } from './tenancy/platform-config.ts';
import { PlatformConfigStore } from './tenancy/platform-config-store.ts';
import { platformTenantSlug } from './tenancy/tenant.ts';
import { TenantRegistry } from './tenancy/tenant-registry.ts';
import { DomainStore } from './tenancy/domain-store.ts';
import { UserStore } from './accounts/user-store.ts';
import { ClientStore } from './oidc/client-store.ts';
import { SigningKeyStore } from './oidc/signing-keys.ts';
import { GrantStore } from './oidc/grant-store.ts';
import { AccountTokenStore } from './account-recovery/account-token-store.ts';
import { TenantRoleStore } from './tenancy/role-store.ts';
import { QuotaStore } from './tenancy/quota-store.ts';

/** The stores over the database (each owns its tables: DESIGN.md, "Table ownership"). */
function createStores(db: Database, box: SecretBox, policy: ConstructorParameters<typeof TenantStore>[1]) {
  const grants = new GrantStore(db);
  const accountTokens = new AccountTokenStore(db);
  return {
    tenantStore: new TenantStore(db, policy),
    keys: new SigningKeyStore(db, box),
    clients: new ClientStore(db, box),
    grants,
    accountTokens,
    users: new UserStore(db, { links: accountTokens, grants }),
    domainStore: new DomainStore(db),
    consoleSessions: new ConsoleSessionStore(db),
    roleStore: new TenantRoleStore(db),
    quotas: new QuotaStore(db),
  };
}

/** The stores, the tenant registry and the operator's policy their records carry (read before the first lookup). */
export async function createTenancy(c: { config: AtriumConfig; db: Database; box: SecretBox; bus: EventBus; log: Logger }) {
  const d = { ...c, audit: new AuditLog(c.db) };
  const policy: { config?: PlatformConfig } = {};
  const stores = createStores(d.db, d.box, () => policy.config!.current());
  // A tenant is cached under its slug, its id and each custom domain: three entries for every resident tenant of the memory budget.
  const registry = new TenantRegistry(stores.tenantStore, d.bus, { max: 3 * c.config.multiTenancy.budget.tenants });
  const platformConfig = (policy.config = createPlatformConfig({ ...d, tenantStore: stores.tenantStore, registry }));
  await platformConfig.reload();
  return { ...stores, registry, platformConfig, audit: d.audit };
}

/**
 * The operator's policy: read at start, and once it changes (here or, through the bus, on
 * another instance) the registry forgets every record, so the next lookups carry the new one.
 */
function createPlatformConfig(d: { config: AtriumConfig; db: Database; bus: EventBus; audit: AuditLog; log: Logger; tenantStore: TenantStore; registry: TenantRegistry }): PlatformConfig {
  const platformConfig = new PlatformConfig({
    store: new PlatformConfigStore(d.db),
    bus: d.bus,
    audit: d.audit,
    log: d.log,
    platformTenantId: async () => (await d.tenantStore.findBySlug(platformTenantSlug(d.config)))?.id,
    allTenants: () => d.tenantStore.all(),
  });
  platformConfig.onChange(() => d.registry.clear());
  return platformConfig;
}

