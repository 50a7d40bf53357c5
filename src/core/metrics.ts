/**
 * Atrium's Prometheus metrics, on a registry of its own (never prom-client's global one), so
 * two instances in one process (tests) keep separate counts. Label values are bounded by
 * construction: tenant slugs, route and status classes, grant types, event types. Never
 * user ids, emails, client ids, paths or anything a caller can make up.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DEPENDENCIES, type DependencyHealth } from './dependency-health.ts';

/** Where a request went, from a few checks on its path (see metrics-middleware.ts). */
export type RouteClass = 'oidc-discovery' | 'oidc-token' | 'oidc-authorize' | 'oidc-userinfo' | 'oidc-other' | 'interaction' | 'api' | 'ops' | 'assets';

/** What the pool metrics read at scrape time (tenancy/provider-pool.ts). */
export interface PoolSource {
  readonly size: number;
  readonly stats: { readonly hits: number; readonly misses: number; readonly evictions: number };
}

const STATUS_CLASSES = ['1xx', '1xx', '2xx', '3xx', '4xx', '5xx'] as const;
// Event types a bus message may carry as a label; anything else is counted as "other".
const EVENT_TYPES = new Set(['tenant.created', 'tenant.changed', 'tenant.deleted', 'keys.rotated', 'client.changed']);
const NO_TENANT = '';

/** A counter whose value is read from a running total at scrape time instead of being incremented. */
function totalCounter(registry: Registry, name: string, help: string, read: () => number | undefined): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      const value = read();
      if (value === undefined) return;
      this.reset();
      this.inc(value);
    },
  });
}

export class Metrics {
  readonly registry = new Registry();
  readonly httpRequests: Counter<'tenant' | 'route_class' | 'status_class'>;
  readonly httpDuration: Histogram<'tenant' | 'route_class'>;
  readonly providerBuild: Histogram;
  readonly providerBuildFailures: Counter;
  readonly tokensIssued: Counter<'tenant' | 'grant_type'>;
  readonly signIns: Counter<'tenant' | 'outcome'>;
  /** Requests refused by a rate limit; `limit` is the rule's name (a fixed set), never the subject. */
  readonly rateLimitRejections: Counter<'tenant' | 'limit'>;
  readonly busLag: Histogram<'type'>;
  readonly databaseTransactions: Histogram<'route_class'>;
  readonly databaseRoundTrips: Histogram<'route_class'>;
  /** Periodic re-checks of verified custom domains, by outcome (verified, failed, unverified). */
  readonly domainRechecks: Counter<'outcome'>;
  #pool: { source: PoolSource; maxSize: number } | undefined;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });

    this.httpRequests = new Counter({
      name: 'atrium_http_requests_total',
      help: 'HTTP requests answered, by tenant slug (empty before tenant resolution), route class and status class',
      labelNames: ['tenant', 'route_class', 'status_class'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'atrium_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by tenant slug and route class',
      labelNames: ['tenant', 'route_class'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });

    this.#definePoolMetrics();
    this.providerBuild = new Histogram({
      name: 'atrium_provider_build_seconds',
      help: 'Time to build a tenant Provider (keys, clients, oidc-provider construction)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.providerBuildFailures = new Counter({ name: 'atrium_provider_build_failures_total', help: 'Tenant Provider builds that failed', registers });

    this.tokensIssued = new Counter({
      name: 'atrium_tokens_issued_total',
      help: 'Successful token endpoint grants, by tenant slug and grant type',
      labelNames: ['tenant', 'grant_type'],
      registers,
    });
    this.signIns = new Counter({
      name: 'atrium_sign_ins_total',
      help: 'Password sign-ins on the login page, by tenant slug and outcome (success, failure)',
      labelNames: ['tenant', 'outcome'],
      registers,
    });
    this.domainRechecks = new Counter({
      name: 'atrium_custom_domain_rechecks_total',
      help: 'Re-checks of verified custom domains: verified (proof found), failed (not found), unverified (failed often enough to be reported)',
      labelNames: ['outcome'],
      registers,
    });
    this.rateLimitRejections = new Counter({
      name: 'atrium_rate_limit_rejections_total',
      help: 'Requests refused by a rate limit, by tenant slug and limit',
      labelNames: ['tenant', 'limit'],
      registers,
    });

    // Per request, not per tenant: a regression in round trips shows in the route class's mean.
    this.databaseTransactions = new Histogram({
      name: 'atrium_db_transactions_per_request',
      help: 'Database transactions a request ran (each is BEGIN, the context statement, its queries, COMMIT), by route class',
      labelNames: ['route_class'],
      buckets: [0, 1, 2, 3, 4, 6, 8, 12, 20],
      registers,
    });
    this.databaseRoundTrips = new Histogram({
      name: 'atrium_db_round_trips_per_request',
      help: 'Times a request waited on the PostgreSQL server (statements pipelined behind another share its wait), by route class; 0 on embedded PGlite',
      labelNames: ['route_class'],
      buckets: [0, 1, 2, 3, 4, 6, 8, 12, 20, 40],
      registers,
    });

    this.busLag = new Histogram({
      name: 'atrium_event_bus_lag_seconds',
      help: "Delay between another instance publishing an event and this instance receiving it (includes clock skew between hosts)",
      labelNames: ['type'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
  }

  /** The pool's size and running totals, read at scrape time (observePool). */
  #definePoolMetrics(): void {
    const pool = () => this.#pool;
    new Gauge({
      name: 'atrium_provider_pool_size',
      help: 'Tenant Providers currently pooled',
      registers: [this.registry],
      collect() {
        const p = pool();
        if (p) this.set(p.source.size);
      },
    });
    new Gauge({
      name: 'atrium_provider_pool_max_size',
      help: 'Capacity of the Provider pool (from MULTI_TENANCY_TENANT_MEMORY_MB, capped by MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE)',
      registers: [this.registry],
      collect() {
        const p = pool();
        if (p) this.set(p.maxSize);
      },
    });
    totalCounter(this.registry, 'atrium_provider_pool_hits_total', 'Requests served by an already pooled Provider', () => pool()?.source.stats.hits);
    totalCounter(this.registry, 'atrium_provider_pool_misses_total', 'Requests that had to build a Provider (absent or outdated)', () => pool()?.source.stats.misses);
    totalCounter(this.registry, 'atrium_provider_pool_evictions_total', 'Providers evicted from the pool (capacity or idle TTL)', () => pool()?.source.stats.evictions);
  }

  /** Reads the pool's running totals at scrape time. */
  observePool(source: PoolSource, maxSize: number): void {
    this.#pool = { source, maxSize };
  }

  /** The signing key pool's pairs ready and its running totals, read at scrape time (oidc/signing-key-pool.ts). */
  observeKeyPool(pool: { readonly stats: { readonly available: number; readonly hits: number; readonly misses: number } }): void {
    new Gauge({
      name: 'atrium_signing_key_pool_available',
      help: 'Signing key pairs generated ahead of time and ready for new tenants (SIGNING_KEY_POOL_SIZE at most)',
      registers: [this.registry],
      collect() {
        this.set(pool.stats.available);
      },
    });
    totalCounter(this.registry, 'atrium_signing_key_pool_hits_total', 'Tenant creations that took a pair from the key pool', () => pool.stats.hits);
    totalCounter(this.registry, 'atrium_signing_key_pool_misses_total', 'Tenant creations that found the key pool empty and generated their pair inline', () => pool.stats.misses);
  }

  /** Dependency errors survived and unexpected errors, read at scrape time (dependency-health.ts). */
  observeDependencies(health: DependencyHealth, state: { redis?: { readonly healthy: boolean }; smtpConfigured: boolean }): void {
    new Gauge({
      name: 'atrium_dependency_up',
      help: 'Whether a dependency answered at its last use (1) or not (0): database always, redis and smtp when configured',
      labelNames: ['dependency'],
      registers: [this.registry],
      collect() {
        this.set({ dependency: 'database' }, health.databaseUp ? 1 : 0);
        if (state.redis) this.set({ dependency: 'redis' }, state.redis.healthy ? 1 : 0);
        if (state.smtpConfigured) this.set({ dependency: 'smtp' }, health.smtpState === 'ok' ? 1 : 0);
      },
    });
    new Counter({
      name: 'atrium_dependency_errors_total',
      help: 'Connection errors of a dependency (database, redis, smtp) that this instance survived',
      labelNames: ['dependency'],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const d of DEPENDENCIES) this.inc({ dependency: d }, health.errors(d));
      },
    });
    totalCounter(this.registry, 'atrium_unexpected_errors_total', 'Errors that reached the last-resort process handler and were survived', () => health.unexpectedErrors);
  }

  /** Reports the Redis event bus's health at scrape time. */
  observeRedisBus(bus: { readonly healthy: boolean }): void {
    // Registered only here: an unlabelled gauge always reports a value, and 0 would read as "Redis down".
    new Gauge({
      name: 'atrium_redis_healthy',
      help: 'Whether the event bus connections to Redis are up (1) or not (0); absent without REDIS_URL',
      registers: [this.registry],
      collect() {
        this.set(bus.healthy ? 1 : 0);
      },
    });
  }

  /** One answered request: the hot path, a few prom-client updates and nothing else. */
  recordRequest(tenant: string | undefined, routeClass: RouteClass, status: number, seconds: number, database: { transactions: number; roundTrips: number } = { transactions: 0, roundTrips: 0 }): void {
    const t = tenant ?? NO_TENANT;
    this.databaseTransactions.observe({ route_class: routeClass }, database.transactions);
    this.databaseRoundTrips.observe({ route_class: routeClass }, database.roundTrips);
    this.httpRequests.inc({ tenant: t, route_class: routeClass, status_class: STATUS_CLASSES[(status / 100) | 0] ?? '5xx' });
    this.httpDuration.observe({ tenant: t, route_class: routeClass }, seconds);
  }

  /** Times a Provider build; failures are counted, not timed. */
  async timeProviderBuild<T>(build: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const built = await build();
      this.providerBuild.observe((performance.now() - started) / 1000);
      return built;
    } catch (err) {
      this.providerBuildFailures.inc();
      throw err;
    }
  }

  tokenIssued(tenant: string, grantType: unknown): void {
    // Only grant types with a registered handler reach grant.success, so the set is bounded.
    this.tokensIssued.inc({ tenant, grant_type: typeof grantType === 'string' ? grantType : 'unknown' });
  }

  signIn(tenant: string, outcome: 'success' | 'failure'): void {
    this.signIns.inc({ tenant, outcome });
  }

  /** An event another instance published `lagMs` ago (by its clock) reached this one. */
  busEventReceived(type: string, lagMs: number): void {
    this.busLag.observe({ type: EVENT_TYPES.has(type) ? type : 'other' }, Math.max(0, lagMs) / 1000);
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of every metric. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
}
