/** The management API under /api/v1: bearer-authenticated JSON, independent of the request host. */
import Router from '@koa/router';
import type { Context, Next } from 'koa';
import type { AtriumConfig } from '../config/env.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import type { SigningKeyStore } from '../oidc/signing-keys.ts';
import type { TenantMaterials } from '../oidc/tenant-materials.ts';
import { apiAuthentication } from './authenticate.ts';
import { mountTenantRoutes } from './tenant-routes.ts';
import { mountTenantResourceRoutes, type TenantResourceDeps } from './tenant-resource-routes.ts';
import { mountConfigRoutes } from './config-routes.ts';
import { mountDomainRoutes } from './domain-routes.ts';
import { mountAuditRoutes } from './audit-routes.ts';
import { mountFederationRoutes } from './federation-routes.ts';
import { mountUserSessionRoutes } from './user-session-routes.ts';
import { mountAccountSecurityRoutes } from './account-security-routes.ts';
import { mountPlatformRoutes } from './platform-routes.ts';
import { mountWebhookRoutes } from './webhook-routes.ts';
import type { WebhookService } from '../webhooks/webhook-service.ts';
import type { IsolationAudit } from '../isolation/isolation-audit.ts';
import type { PlatformConfig } from '../tenancy/platform-config.ts';
import { mountTransferRoutes } from './transfer-routes.ts';
import type { TenantTransfer } from '../runtime/tenant-transfer.ts';
import type { AccountRecovery } from '../account-recovery/account-recovery.ts';
import type { LoginLockout } from '../accounts/lockout.ts';
import type { MfaService } from '../mfa/mfa-service.ts';
import type { UserSessionService } from '../accounts/user-sessions.ts';
import type { FederationService } from '../federation/federation-service.ts';
import type { DomainService } from '../tenancy/domain-service.ts';
import type { AuditStore } from '../audit/audit-store.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { AppError } from '../core/errors.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { QuotaStore } from '../tenancy/quota-store.ts';
import type { QuotaService } from '../tenancy/quota-service.ts';
import type { RoleService } from '../tenancy/role-service.ts';
import { managementRateGate } from './management-rate.ts';
import { mountRoleRoutes } from './role-routes.ts';
import { mountQuotaRoutes } from './quota-routes.ts';
import { ApiRoutes } from './route-contract.ts';
import { mountContractRoutes } from './contract-routes.ts';

export interface ApiDeps extends TenantResourceDeps {
  config: AtriumConfig;
  registry: TenantRegistry;
  keys: SigningKeyStore;
  /** Client records by tenant version: a token is checked against its client as it is now. */
  materials: TenantMaterials;
  service: TenantResourceDeps['tenants'];
  /** Seals the secret fields of tenant configuration. */
  box: SecretBox;
  /** Custom domains of the target tenant. */
  domains: DomainService;
  /** Reads the target tenant's audit events. */
  auditStore: AuditStore;
  /** The target tenant's upstream identity providers. */
  federation: FederationService;
  /** Users' sessions and second factors (sign out everywhere, reset MFA). */
  userSessions: UserSessionService;
  mfa: MfaService;
  /** Invitations (signup, reset and invitation links). */
  accountRecovery: AccountRecovery;
  /** Sign-in lockout: status and unlock. */
  lockout: LoginLockout;
  /** The isolation self-audit (GET /platform/isolation-report). */
  isolationAudit: IsolationAudit;
  /** The operator's policy (GET/PUT /platform/config/:section). */
  platformConfig: PlatformConfig;
  /** Tenant export and import. */
  transfer: TenantTransfer;
  /** Custom roles of the target tenant. */
  roles: RoleService;
  /** Quotas: set by the platform (quotaService), read by the management_requests_per_minute gate (quotaStore). */
  quotaService: QuotaService;
  quotaStore: QuotaStore;
  rateLimiter: RateLimiter;
  /** Webhook subscriptions and deliveries (a tenant's, and the platform's). */
  webhooks: WebhookService;
}

export function apiRouter(deps: ApiDeps) {
  const router = new Router({ prefix: '/api/v1' });
  const api = new ApiRoutes(router);
  router.use(async function noStore(ctx: Context, next: Next) {
    ctx.set('Cache-Control', 'no-store');
    await next();
  });
  // The contract and its reference page are public: mounted before authentication, they
  // answer without reaching it. They describe every route mounted below (api.specs).
  mountContractRoutes(api, { config: deps.config });
  router.use(apiAuthentication(deps.config, deps.registry, deps.keys, deps.materials));
  const gate = managementRateGate(deps.quotaStore, deps.rateLimiter);
  router.use(async function managementQuota(ctx: Context, next: Next) {
    ctx.state.tenantGate = gate;
    await next();
  });
  mountTransferRoutes(api, { config: deps.config, store: deps.store, transfer: deps.transfer });
  mountTenantRoutes(api, { config: deps.config, store: deps.store, service: deps.service });
  mountTenantResourceRoutes(api, deps);
  mountConfigRoutes(api, { config: deps.config, store: deps.store, tenants: deps.tenants, box: deps.box });
  mountDomainRoutes(api, { store: deps.store, domains: deps.domains });
  mountAuditRoutes(api, { store: deps.store, auditStore: deps.auditStore });
  mountFederationRoutes(api, { config: deps.config, store: deps.store, federation: deps.federation });
  mountUserSessionRoutes(api, { store: deps.store, users: deps.users, userSessions: deps.userSessions, mfa: deps.mfa });
  mountAccountSecurityRoutes(api, { store: deps.store, users: deps.users, recovery: deps.accountRecovery, lockout: deps.lockout, roles: deps.roles });
  mountPlatformRoutes(api, { isolationAudit: deps.isolationAudit, platformConfig: deps.platformConfig });
  mountRoleRoutes(api, { store: deps.store, roles: deps.roles });
  mountQuotaRoutes(api, { store: deps.store, quotas: deps.quotaService });
  mountWebhookRoutes(api, { store: deps.store, webhooks: deps.webhooks });
  const routes = router.routes();
  const allowed = router.allowedMethods({
    throw: true,
    methodNotAllowed: () => new AppError('method_not_allowed', 405, 'method not allowed on this resource'),
    notImplemented: () => new AppError('not_implemented', 501, 'method not implemented'),
  });
  // The router rides along so tests can walk its own route list (test/audit-coverage.test.ts,
  // test/openapi.test.ts), and the declarations it was built from with it.
  return Object.assign(async function managementApi(ctx: Context, next: Next): Promise<void> {
    if (ctx.path !== '/api/v1' && !ctx.path.startsWith('/api/v1/')) return next();
    // @koa/router types its context as a RouterContext; ours is the same object at run time.
    const routerCtx = ctx as Parameters<typeof routes>[0];
    await routes(routerCtx, async () => {
      await allowed(routerCtx as Parameters<typeof allowed>[0], async () => {});
    });
    if (ctx.body === undefined && ctx.status === 404) throw new AppError('not_found', 404, 'no such API resource');
  }, { router, specs: api.specs });
}
