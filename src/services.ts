/**
 * Wires Atrium's parts together from the configuration: storage, bus, stores, services,
 * the provider pool. One object, built once at start and closed once at shutdown.
 */
import type { Logger } from 'pino';
import type { AtriumConfig } from './config/env.ts';
import { openDatabase } from './storage/open-database.ts';
import type { Database } from './storage/database.ts';
import { createInProcessBus, type EventBus } from './events/bus.ts';
import { createRedisBus } from './events/redis-bus.ts';
import { loadSecretBox } from './security/master-key.ts';
import type { SecretBox } from './security/secret-box.ts';
import { AuditLog } from './security/audit-log.ts';
import { TenantStore } from './tenancy/tenant-store.ts';
import { TenantRegistry } from './tenancy/tenant-registry.ts';
import { TenantService } from './tenancy/tenant-service.ts';
import { ProviderPool } from './tenancy/provider-pool.ts';
import { runAsTenant } from './tenancy/request-context.ts';
import { UserStore } from './accounts/user-store.ts';
import { UserService } from './accounts/user-service.ts';
import { ClientStore } from './oidc/client-store.ts';
import { ClientService } from './oidc/client-service.ts';
import { SigningKeyStore } from './oidc/signing-keys.ts';
import { buildTenantRuntime } from './oidc/provider-factory.ts';
import { TenantMaterials } from './oidc/tenant-materials.ts';
import { startPayloadSweeper } from './oidc/payload-sweeper.ts';

export interface Services {
  config: AtriumConfig;
  log: Logger;
  db: Database;
  bus: EventBus;
  box: SecretBox;
  audit: AuditLog;
  tenantStore: TenantStore;
  registry: TenantRegistry;
  tenants: TenantService;
  pool: ProviderPool;
  users: UserStore;
  userService: UserService;
  clients: ClientStore;
  clientService: ClientService;
  keys: SigningKeyStore;
  close(): Promise<void>;
}

export async function createServices(config: AtriumConfig, log: Logger, options: { inMemoryDatabase?: boolean } = {}): Promise<Services> {
  const box = loadSecretBox(config, log);
  const db = await openDatabase(config, log, { inMemory: options.inMemoryDatabase });
  const bus = config.redisUrl ? createRedisBus(config.redisUrl, log) : createInProcessBus();
  const tenantStore = new TenantStore(db);
  const registry = new TenantRegistry(tenantStore, bus);
  const keys = new SigningKeyStore(db, box);
  const clients = new ClientStore(db, box);
  const users = new UserStore(db);
  const tenants = new TenantService(tenantStore, keys, bus, log);
  const audit = new AuditLog(db);
  const materials = new TenantMaterials(keys, clients);
  const pool = new ProviderPool(config.multiTenancy.pool, (tenant) =>
    // The build reads the tenant's keys under its own row-level security.
    runAsTenant(tenant.id, () => buildTenantRuntime(tenant, { config, db, box, users, materials, audit })),
  );
  bus.subscribe((event) => pool.invalidate(event.tenantId));
  const clientService = new ClientService(clients, pool, tenants);
  const sweeper = startPayloadSweeper(db, log);

  return {
    config,
    log,
    db,
    bus,
    box,
    audit,
    tenantStore,
    registry,
    tenants,
    pool,
    users,
    userService: new UserService(users),
    clients,
    clientService,
    keys,
    async close() {
      sweeper.stop();
      pool.close();
      await bus.close();
      await db.driver.close();
    },
  };
}
