/**
 * Wires Atrium's parts together from the configuration: storage, bus, stores, services,
 * the provider pool. One object, built once at start and closed once at shutdown.
 */
import { ConsoleAuth } from './console/console-auth.ts';
import { announceEndedSessions, upstreamSessionHooks } from './session-ends.ts';
import { HandoffNonceStore } from './accounts/handoff-nonce-store.ts';
import type { Logger } from 'pino';
import { createTenancy } from './tenancy-wiring.ts';
import type { AtriumConfig } from './config/env.ts';
import { openDatabase } from './storage/open-database.ts';
import type { Database } from './storage/database.ts';
import { createInProcessBus, type EventBus } from './events/bus.ts';
import { createRedisBus } from './events/redis-bus.ts';
import { readDeploymentId } from './storage/deployment-id.ts';
import { loadSecretBox } from './core/master-key.ts';
import type { SecretBox } from './core/secret-box.ts';
import { AuditLog } from './audit/audit-log.ts';
import { AuditStore } from './audit/audit-store.ts';
import { DnsResolver } from './core/dns-resolver.ts';
import { EgressGuard } from './core/egress-guard.ts';
import { startAuditRetentionSweeper } from './audit/audit-retention.ts';
import type { RateLimiter } from './security/rate-limiter.ts';
import { createRateLimiter } from './security/rate-limiter-factory.ts';
import { TenantStore } from './tenancy/tenant-store.ts';
import { PlatformConfig } from './tenancy/platform-config.ts';
import { TenantRegistry } from './tenancy/tenant-registry.ts';
import { TenantService } from './tenancy/tenant-service.ts';
import type { Tenant } from './tenancy/tenant.ts';
import { DomainService } from './tenancy/domain-service.ts';
import { DomainChallenges } from './tenancy/domain-verification.ts';
import { DomainRechecker } from './tenancy/domain-recheck.ts';
import { ProviderPool } from './runtime/provider-pool.ts';
import { ProviderDocuments } from './oidc/provider-documents.ts';
import { ClientValidationProviders } from './oidc/client-validation.ts';
import { TenantRuntimes } from './runtime/tenant-runtime.ts';
import { TenantTransfer } from './runtime/tenant-transfer.ts';
import { runAsTenant } from './core/request-context.ts';
import { UserStore } from './accounts/user-store.ts';
import { UserService } from './accounts/user-service.ts';
import { ClientStore } from './oidc/client-store.ts';
import { ClientService } from './oidc/client-service.ts';
import { SigningKeyStore } from './oidc/signing-keys.ts';
import { SigningKeyPool } from './oidc/signing-key-pool.ts';
import { buildProviderRuntime, type CompletedSignIn, type ProviderDeps } from './oidc/provider-factory.ts';
import { TenantMaterials } from './oidc/tenant-materials.ts';
import { ClientCredentialsIssuer } from './oidc/client-credentials-issuer.ts';
import { startPayloadSweeper } from './runtime/expiry-sweeper.ts';
import { WebhookStore } from './webhooks/webhook-store.ts';
import { WebhookService } from './webhooks/webhook-service.ts';
import { WebhookDeliverer } from './webhooks/webhook-delivery.ts';
import { WebhookWorker } from './webhooks/webhook-worker.ts';
import { GrantStore } from './oidc/grant-store.ts';
import { KeyLifecycle } from './oidc/key-lifecycle.ts';
import { Metrics } from './core/metrics.ts';
import { DependencyHealth } from './core/dependency-health.ts';
import { MailService } from './mail/mail-service.ts';
import { SmsSender } from './sms/sms-sender.ts';
import { SmsAlerts } from './sms/sms-alerts.ts';
import { PhoneVerification } from './sms/phone-verification.ts';
import { PhoneStore } from './accounts/phone-store.ts';
import { mfaChangeMail } from './mail/mfa-change-mail.ts';
import { NewDeviceAlerts } from './mail/new-device-alert.ts';
import { LoginLockout } from './accounts/lockout.ts';
import { AccountRecovery } from './account-recovery/account-recovery.ts';
import { createFederation, type Federation } from './federation/federation.ts';
import { MfaService } from './mfa/mfa-service.ts';
import { MfaStore } from './mfa/mfa-store.ts';
import { UserSessionService } from './accounts/user-sessions.ts';
import { RoleService } from './tenancy/role-service.ts';
import { QuotaStore } from './tenancy/quota-store.ts';
import { QuotaService } from './tenancy/quota-service.ts';
import { IsolationAudit } from './isolation/isolation-audit.ts';

export interface Services {
  config: AtriumConfig;
  log: Logger;
  db: Database;
  bus: EventBus;
  box: SecretBox;
  audit: AuditLog;
  /** Reads the audit events of the tenant in context (management API). */
  auditStore: AuditStore;
  /** Login and token endpoint limits; shared through Redis when REDIS_URL is set. */
  rateLimiter: RateLimiter;
  tenantStore: TenantStore;
  registry: TenantRegistry;
  tenants: TenantService;
  /** The operator's policy above the tenants (floors, ceilings, defaults), edited on /platform and the API. */
  platformConfig: PlatformConfig;
  /** Custom roles of the tenant in context, and the check of any role given to a user. */
  roles: RoleService;
  /** Quotas the platform sets on tenants (quotaService: set and report; quotaStore: read in the tenant in context). */
  quotaService: QuotaService;
  quotaStore: QuotaStore;
  /** Custom domains of the tenant in context. */
  domains: DomainService;
  /** The periodic re-check of verified custom domains (DOMAIN_RECHECK_INTERVAL_MS). */
  domainChecks: DomainRechecker;
  pool: ProviderPool;
  /** Discovery and JWKS without building a Provider (oidc/provider-documents.ts). */
  providerDocuments: ProviderDocuments;
  /** Each tenant record's typed runtime: policies, keys, cookies, and its Provider (runtime/tenant-runtime.ts). */
  runtimes: TenantRuntimes;
  /** Plain client_credentials requests answered without a Provider (the token fast path). */
  clientCredentials: ClientCredentialsIssuer;
  users: UserStore;
  userService: UserService;
  clients: ClientStore;
  clientService: ClientService;
  /** Client records and imported keys cached by tenant version (Providers, token fast path, API authentication). */
  materials: TenantMaterials;
  keys: SigningKeyStore;
  /** Key pairs generated ahead of time for new tenants; the server starts filling it (server.ts). */
  keyPool: SigningKeyPool;
  /** Scheduled key rotation and removal of expired retired keys (one instance at a time). */
  keyLifecycle: KeyLifecycle;
  /** Prometheus metrics of this instance (its own registry). */
  metrics: Metrics;
  /** Dependency errors survived (database, Redis, SMTP) and unexpected ones: /readyz and /metrics. */
  health: DependencyHealth;
  /** Tenants' upstream identity providers (bring your own IdP). */
  federation: Federation;
  /** Sign-in and sessions of Atrium's own pages (/account, /admin, /platform). */
  consoleAuth: ConsoleAuth;
  /** The isolation self-audit (CLI audit-isolation, GET /api/v1/platform/isolation-report). */
  isolationAudit: IsolationAudit;
  /** Users' second factors (TOTP, recovery codes, passkeys); `resetForUser` for admins. */
  mfa: MfaService;
  /** Users' sign-in and console sessions; `revokeAllSessions(userId)` for admins. */
  userSessions: UserSessionService;
  /** Every outbound connection a tenant can aim goes through it (HTTP and SMTP). */
  egress: EgressGuard;
  /** The DNS of outbound connections and domain verification (DNS_SERVERS). */
  dns: DnsResolver;
  /** Outgoing mail: `mail.send(tenant, to, template, locals)` (templates in views/mail/). */
  mail: MailService;
  /** Text messages with the tenant's provider (notifications.sms). */
  sms: SmsSender;
  /** Users' phone numbers and their verification by a texted code (/account). */
  phoneVerification: PhoneVerification;
  /** Sign-in lockout; `lockout.unlock(userId)` for admins (tenant in context). */
  lockout: LoginLockout;
  /** Signup, email verification, password reset and invitations. */
  accountRecovery: AccountRecovery;
  /** Tenant export and import between deployments. */
  transfer: TenantTransfer;
  /** Webhook subscriptions of the tenant in context (the platform's: the platform tenant's), deliveries and replays. */
  webhooks: WebhookService;
  close(): Promise<void>;
}

export async function createServices(config: AtriumConfig, log: Logger, options: { inMemoryDatabase?: boolean; keyLifecycleIntervalMs?: number } = {}): Promise<Services> {
  const { box, metrics, health, db, bus, deploymentId } = await openDependencies(config, log, options);
  const { tenantStore, keys, clients, grants, accountTokens, users, domainStore, consoleSessions, registry, platformConfig, roleStore, quotas, audit } = await createTenancy({ config, db, box, bus, log });
  const keyPool = new SigningKeyPool(config.signingKeyPoolSize, () => keys.generatePair(), log);
  metrics.observeKeyPool(keyPool);
  // New tenants take a pair from the pool; rotations generate theirs (a lifecycle run over
  // thousands of tenants would otherwise drain the pool that creations wait on).
  const tenants = new TenantService(tenantStore, { takePair: () => keyPool.take(), insertCurrentPair: (q, id, pair) => keys.insertCurrentPair(q, id, pair as Awaited<ReturnType<SigningKeyPool['take']>>) }, bus, log, audit, roleStore);
  const roles = new RoleService(roleStore, audit);
  const materials = new TenantMaterials(keys, clients, config.multiTenancy.budget);
  const dns = new DnsResolver(config);
  const egress = new EgressGuard(config, dns, log);
  const { sms, mail, phoneVerification } = createMessaging({ config, db, box, log, egress, health, audit });
  const challenges = new DomainChallenges(dns, egress);
  const domainChecks = new DomainRechecker({ store: domainStore, challenges, audit, metrics, log }, config.domainRecheckIntervalMs).start();
  const federation = createFederation({ config, db, box, users, audit, egress });
  // One upstream sign-out for both doors: the Providers' RP-initiated logout and the console's /account.
  const userSessions = new UserSessionService({ db, signIns: grants, consoles: consoleSessions, audit });
  const upstream = upstreamSessionHooks({ config, db, box, audit, federation, userSessions });
  const { pool, providerDocuments, clientValidation } = createProviderPool({ config, db, box, users, materials, audit, metrics, egress, grants, mail, bus, federation, registry, upstream });
  const clientService = new ClientService(clients, clientValidation, tenants, audit);
  const sweepers = [startPayloadSweeper(db, log), startAuditRetentionSweeper(db, log)];
  const keyLifecycle = new KeyLifecycle({ db, keys, tenants, audit, log, policy: () => platformConfig.current() }, { intervalMs: options.keyLifecycleIntervalMs }).start();
  // Connects to Redis on first use only: operator commands never open the connection.
  const rateLimiter = createRateLimiter(config, log, box, deploymentId, (err) => health.errorSurvived('redis', err));
  const lockout = new LoginLockout({ db, audit, box });
  const userService = new UserService(users, audit, roles);
  const accountRecovery = new AccountRecovery({ config, users, tokens: accountTokens, mail, lockout, sessions: userSessions, audit });
  const { service: webhooks, worker: webhookWorker } = createWebhooks({ config, db, box, audit, tenants, egress, log });
  const mfa = new MfaService({ config, store: new MfaStore(db, accountTokens), box, users, audit, notify: mfaChangeMail(mail, registry) });

  return {
    config,
    log,
    db,
    bus,
    box,
    audit,
    auditStore: new AuditStore(db),
    rateLimiter, tenantStore, registry,
    tenants,
    platformConfig,
    roles, quotaService: new QuotaService(quotas, audit), quotaStore: quotas,
    domains: new DomainService(config, domainStore, tenants, challenges),
    domainChecks,
    pool,
    providerDocuments,
    runtimes: new TenantRuntimes({ config, box, providerFor: (tenant) => pool.get(tenant) }),
    clientCredentials: new ClientCredentialsIssuer(config, materials),
    users, userService, clients, clientService, materials,
    keys, keyPool, keyLifecycle,
    metrics, health,
    federation,
    consoleAuth: new ConsoleAuth({ config, box, users, audit, sessions: consoleSessions, grants, handoffNonces: new HandoffNonceStore(db), registry, upstreamSignOut: upstream.leave }),
    mfa,
    userSessions,
    isolationAudit: new IsolationAudit({ config, db, box, audit }),
    egress, dns,
    mail, sms, phoneVerification,
    lockout, accountRecovery,
    transfer: new TenantTransfer({ db, box, bus, audit, log }),
    webhooks,
    async close() {
      // Background work first, then what it used.
      await webhookWorker.stop();
      mail.close();
      for (const sweeper of sweepers) sweeper.stop();
      registry.close();
      await keyLifecycle.stop();
      await keyPool.close();
      await domainChecks.stop();
      pool.close();
      await rateLimiter.close();
      await bus.close();
      await db.driver.close();
      await egress.close();
    },
  };
}

/**
 * Webhooks: the service is the audit log's follower (tenant events) and the tenant service's
 * lifecycle listener (platform events); the worker delivers, and is woken by this instance's commits.
 */
function createWebhooks(d: { config: AtriumConfig; db: Database; box: SecretBox; audit: AuditLog; tenants: TenantService; egress: EgressGuard; log: Logger }) {
  const store = new WebhookStore(d.db, d.box);
  const service = new WebhookService({ db: d.db, store, audit: d.audit, allowHttp: d.config.env === 'development' });
  const worker = new WebhookWorker(new WebhookDeliverer({ db: d.db, store, egress: d.egress, policy: d.config.webhooks }), d.log, d.config.webhooks.pollIntervalMs).start();
  service.onEnqueued(() => worker.wake());
  d.audit.follow(service);
  d.tenants.listen(service);
  return { service, worker };
}

/** Mail and text messages: security alerts reach a verified phone too, and phones are verified by text. */
function createMessaging(d: { config: AtriumConfig; db: Database; box: SecretBox; log: Logger; egress: EgressGuard; health: DependencyHealth; audit: AuditLog }) {
  const sms = new SmsSender({ config: d.config, egress: d.egress, box: d.box, log: d.log });
  const phones = new PhoneStore(d.db);
  const mail = new MailService({ config: d.config, box: d.box, log: d.log, egress: d.egress, health: d.health, textAlerts: new SmsAlerts({ phones, sms }) });
  return { sms, mail, phoneVerification: new PhoneVerification({ phones, sms, audit: d.audit }) };
}

/** The master keys, the metrics and health of this instance, the database and the bus. */
async function openDependencies(config: AtriumConfig, log: Logger, options: { inMemoryDatabase?: boolean }) {
  const box = loadSecretBox(config, log);
  const metrics = new Metrics();
  const health = new DependencyHealth(log);
  const db = await openDatabase(config, log, { inMemory: options.inMemoryDatabase, health });
  // The deployment is its database: its id keeps what it shares a Redis with others apart (the bus channel, rate-limit keys).
  const deploymentId = await readDeploymentId(db);
  const bus = config.redis ? createRedisBus(config.redis, deploymentId, log, metrics, (err) => health.errorSurvived('redis', err)) : createInProcessBus();
  metrics.observeDependencies(health, { redis: config.redis ? bus : undefined, smtpConfigured: Boolean(config.smtp.url) });
  if (config.redis) metrics.observeRedisBus(bus);
  return { box, metrics, health, db, bus, deploymentId };
}

type PoolParts = Pick<Services, 'config' | 'db' | 'box' | 'users' | 'materials' | 'audit' | 'metrics' | 'egress' | 'mail' | 'bus'> & { grants: GrantStore; federation: Federation; registry: TenantRegistry; upstream: ReturnType<typeof upstreamSessionHooks> };

/**
 * The pool of tenants' Providers, each built under its tenant's row-level security. Every
 * completed sign-in records its session's device (the account page's list) and may send the
 * new-device mail. A change on the bus drops the tenant's Provider at once.
 */
function createProviderPool({ config, db, box, users, materials, audit, metrics, egress, grants, mail, bus, federation, registry, upstream }: PoolParts): { pool: ProviderPool; providerDocuments: ProviderDocuments; clientValidation: ClientValidationProviders } {
  const newDevices = new NewDeviceAlerts({ db, users, mail });
  const onSignedIn = async (tenant: Tenant, signIn: CompletedSignIn) => {
    await Promise.all([grants.recordUse(signIn.sessionUid, signIn.userId, signIn), newDevices.signedIn(tenant, signIn), upstream.bind(tenant, signIn)]);
  };
  const { onSignedOut, onRefresh } = upstream;
  const deps: ProviderDeps = { config, db, box, users, materials, audit, metrics, egress, onSignedIn, onSignedOut, onRefresh };
  const pool = new ProviderPool(config.multiTenancy.pool, (tenant) => metrics.timeProviderBuild(() => runAsTenant(tenant.id, () => buildProviderRuntime(tenant, deps))));
  metrics.observePool(pool, config.multiTenancy.pool.maxSize);
  // A change of operator policy reaches the pool through the records (their policy version), not an event per tenant.
  bus.subscribe((event) => event.type !== 'platform.changed' && pool.invalidate(event.tenantId));
  announceEndedSessions({ grants, federation, registry, pool, audit });
  const providerDocuments = new ProviderDocuments(deps);
  return { pool, providerDocuments, clientValidation: new ClientValidationProviders(deps, providerDocuments) };
}
