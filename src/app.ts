/**
 * The root Koa application, around the declared pipeline (http/pipeline.ts), which the
 * provider fast path builds from too:
 *   context → [finish: request metrics, access line] → errors → [edge: headers, Host check]
 *   → static → _ops → /metrics → federation relay → /api/v1                    (no tenant needed)
 *   → [tenant: resolution, suspension check] → the tenant picker (platform host) → console pages → the sign-in journey (interactions/journey.ts)
 *   → [provider: token endpoint limits] → the tenant's oidc-provider.
 */
import Koa from 'koa';
import type { Context, Next } from 'koa';
import type { Services } from './services.ts';
import { apiRouter } from './api/router.ts';
import { demoRoutes } from './console/demo-routes.ts';
import { errorMiddleware } from './http/error-middleware.ts';
import { metricsRoutes } from './http/metrics-routes.ts';
import { opsRoutes } from './http/ops-routes.ts';
import { requestContextMiddleware } from './http/request-context-middleware.ts';
import { staticAssets } from './http/static-assets.ts';
import { declarePipeline } from './http/pipeline.ts';
import { koaFinish, koaSteps } from './http/koa-edge.ts';
import { federationRelay } from './interactions/federation-relay-routes.ts';
import { createInteractionDeps, type InteractionDeps } from './interactions/interaction-deps.ts';
import { signInJourney } from './interactions/journey.ts';
import { brandingStylesheet } from './http/branding-css.ts';
import { accountRoutes } from './console/account/account-routes.ts';
import { adminRoutes } from './console/admin/admin-routes.ts';
import { platformRoutes } from './console/platform/platform-routes.ts';
import { tenantPickerRoutes } from './interactions/tenant-picker-routes.ts';

/** Runs a router only for its own paths, so other requests skip its route matching. */
function onlyUnder<C extends Context>(prefix: string, middleware: (ctx: C, next: Next) => Promise<unknown>) {
  return function routeByPrefix(ctx: Context, next: Next) {
    // @koa/router types its context as a RouterContext; it is this same object at run time.
    return ctx.path.startsWith(prefix) ? middleware(ctx as C, next) : next();
  };
}

export function createApp(services: Services, options: { isShuttingDown: () => boolean }): Koa {
  const { config } = services;
  // The edge (client-address.ts) has already rewritten X-Forwarded-For to the one client
  // address TRUST_PROXY believes and removed what is not believed, so Koa may read them.
  const app = new Koa({ proxy: true, maxIpsCount: 1 });
  app.silent = true; // errors are logged by errorMiddleware with their correlation id
  app.keys = services.box.deriveKeys('app-cookies', 'atrium').map((k) => k.toString('base64'));

  const journey = signInJourneyDeps(services);
  const pipeline = declarePipeline(services);

  app.use(requestContextMiddleware(services.log));
  app.use(koaFinish(pipeline.finish));
  app.use(errorMiddleware);
  app.use(koaSteps(pipeline.edge));
  app.use(staticAssets());
  // Connection: close while draining is set for every response by the server (http/connection-drain.ts).
  app.use(opsRoutes({ db: services.db, bus: services.bus, health: services.health, redisConfigured: Boolean(config.redis), smtpConfigured: Boolean(config.smtp.url), isShuttingDown: options.isShuttingDown }));
  app.use(metricsRoutes(services.metrics, config.metrics.token));
  app.use(federationRelay(journey));
  app.use(managementApi(services));
  app.use(koaSteps(pipeline.tenant));
  app.use(onlyUnder('/tenants', tenantPickerRoutes({ config, picker: services.federation.picker, rateLimiter: services.rateLimiter }).routes()));
  app.use(brandingStylesheet());
  app.use(services.consoleAuth.middleware());
  app.use(onlyUnder('/account', services.consoleAuth.routes().routes()));
  app.use(onlyUnder('/account', accountRoutes(services).routes()));
  app.use(onlyUnder('/admin', adminRoutes(services).routes()));
  app.use(onlyUnder('/platform', platformRoutes(services).routes()));
  app.use(signInJourney(journey));
  if (config.demo) app.use(onlyUnder('/demo', demoRoutes(services).routes()));
  app.use(koaSteps(pipeline.provider));
  app.use(async function delegateToProvider(ctx: Context, _next: Next) {
    const runtime = await ctx.state.runtime.provider();
    ctx.respond = false;
    await runtime.handle(ctx.req, ctx.res);
  });
  return app;
}

/** The services every page of the sign-in journey gets, in one typed object (interactions/interaction-deps.ts). */
function signInJourneyDeps(services: Services): InteractionDeps {
  const { config, box, registry, users, audit, rateLimiter, metrics, lockout, mfa, federation, accountRecovery } = services;
  return createInteractionDeps({ config, box, registry, users, audit, rateLimiter, metrics, lockout, mfa, federation, recovery: accountRecovery, runtimes: services.runtimes, userSessions: services.userSessions });
}

/** The /api/v1 router wired to the services: mounted by createApp, walked by the audit-coverage test. */
export function managementApi(services: Services): ReturnType<typeof apiRouter> {
  return apiRouter({
    config: services.config,
    registry: services.registry,
    keys: services.keys,
    keyLifecycle: services.keyLifecycle,
    materials: services.materials,
    store: services.tenantStore,
    service: services.tenants,
    tenants: services.tenants,
    clients: services.clients,
    clientService: services.clientService,
    users: services.users,
    userService: services.userService,
    box: services.box,
    domains: services.domains,
    auditStore: services.auditStore,
    federation: services.federation.service,
    userSessions: services.userSessions,
    mfa: services.mfa,
    accountRecovery: services.accountRecovery,
    lockout: services.lockout,
    isolationAudit: services.isolationAudit,
    platformConfig: services.platformConfig,
    transfer: services.transfer,
    roles: services.roles,
    quotaService: services.quotaService,
    quotaStore: services.quotaStore,
    rateLimiter: services.rateLimiter,
    webhooks: services.webhooks,
  });
}
