/**
 * The global configuration: read once from the environment at start, validated,
 * frozen. Nothing else in the code base reads process.env.
 */
import ipaddr from 'ipaddr.js';
import { z } from 'zod';
import { redisTarget, type RedisTarget } from './redis-target.ts';
import { dnsServers, providerOrigins } from './list-settings.ts';
import { tenantMemoryBudget, type TenantMemoryBudget } from './tenant-memory-budget.ts';
import { proxyTrust, type ProxyTrust } from './proxy-trust.ts';

export type { ProxyTrust } from './proxy-trust.ts';

export type AtriumEnvName = 'development' | 'staging' | 'production';

const boolean = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const positiveInt = z.coerce.number({ message: 'must be a number' }).int('must be a whole number').positive('must be positive');

const base64Key = z
  .string()
  .refine((v) => Buffer.from(v, 'base64').length === 32, { message: 'must be 32 bytes encoded as base64' });

const extractionStrategies = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
  .pipe(z.array(z.enum(['header', 'subdomain'], { message: 'strategies are "header" and "subdomain"' })).min(1));

const HOST_NAME = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** EGRESS_ALLOW: host names (exact) and IP addresses or CIDRs, comma-separated. */
const egressAllow = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))
  .pipe(
    z.array(
      z.string().refine((entry) => (entry.includes('/') ? isCidr(entry) : ipaddr.IPv4.isValidFourPartDecimal(entry) || ipaddr.IPv6.isValid(entry) || HOST_NAME.test(entry)), {
        message: 'entries must be host names, IP addresses or CIDRs (e.g. 10.0.0.0/8,idp.corp.example)',
      }),
    ),
  );

function isCidr(entry: string): boolean {
  try {
    ipaddr.parseCIDR(entry);
    return true;
  } catch {
    return false;
  }
}

const schema = z.object({
  ATRIUM_ENV: z.enum(['development', 'staging', 'production'], { message: 'must be development, staging or production' }).default('development'),
  PORT: z.coerce.number({ message: 'must be a port number' }).int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('0.0.0.0'),
  // Unset: http://localhost:{PORT}, so changing only PORT keeps issuers reachable.
  PUBLIC_URL: z.url({ message: 'must be an absolute URL' }).optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  // The owner login, for migrations; DATABASE_URL is then a runtime login that owns nothing (README, Database roles).
  DATABASE_MIGRATION_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL').optional(),
  DATA_DIR: z.string().min(1).default('./data'),
  REDIS_URL: redisTarget.optional(),
  ENCRYPTION_KEY: base64Key.optional(),
  ENCRYPTION_KEYS_RETIRED: z
    .string()
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
    .pipe(z.array(base64Key))
    .default([]),
  MULTI_TENANCY_ENABLED: boolean.default(false),
  MULTI_TENANCY_EXTRACTION_PRIORITY: extractionStrategies.default(['header', 'subdomain']),
  MULTI_TENANCY_TENANT_HEADER: z.string().regex(/^[a-z0-9-]+$/i, 'must be an HTTP header name').default('x-tenant-id'),
  // Memory for per-tenant state (tenant-memory-budget.ts); POOL_MAX_SIZE, when set, caps the pool below it.
  MULTI_TENANCY_TENANT_MEMORY_MB: positiveInt.max(262_144, 'must be at most 262144').default(1536),
  MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: positiveInt.optional(),
  MULTI_TENANCY_PROVIDER_POOL_IDLE_TTL_MS: positiveInt.default(1_800_000),
  MULTI_TENANCY_PROVIDER_POOL_CLEANUP_INTERVAL_MS: positiveInt.default(60_000),
  ATRIUM_BOOTSTRAP_ADMIN_EMAIL: z.email({ message: 'must be an email address' }).optional(),
  ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(12, 'must be at least 12 characters').optional(),
  ATRIUM_BOOTSTRAP_CLIENT_ID: z.string().regex(/^[A-Za-z0-9._~-]{3,128}$/, 'must be 3-128 URL-safe characters').optional(),
  ATRIUM_BOOTSTRAP_CLIENT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  ATRIUM_DEMO: boolean.default(false),
  TRUST_PROXY: proxyTrust.default({ hops: 0, proxies: undefined }),
  RATE_LIMITS_ENABLED: boolean.default(true),
  DATABASE_POOL_SIZE: positiveInt.default(10),
  DATABASE_PREPARED_STATEMENTS: boolean.default(true),
  SIGNING_KEY_POOL_SIZE: z.coerce.number({ message: 'must be a number' }).int('must be a whole number').min(0, 'must be 0 or more').max(1000, 'must be at most 1000').default(8),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  METRICS_TOKEN: z.string().min(16, 'must be at least 16 characters').regex(/^\S+$/, 'must not contain spaces').optional(),
  METRICS_PORT: z.coerce.number({ message: 'must be a port number' }).int().min(0).max(65535).optional(),
  OIDC_STATE_TTL_SECONDS: positiveInt.max(3600, 'must be at most 3600').default(600),
  OIDC_REDIRECT_GRACE_PERIOD_SECONDS: z.coerce.number({ message: 'must be a number' }).int().min(0, 'must be 0 or more').max(86_400, 'must be at most 86400').default(600),
  SMTP_URL: z.string().regex(/^smtps?:\/\/[^/]+/, 'must be an smtp:// or smtps:// URL').optional(),
  SMTP_FROM: z.string().min(3).max(320).optional(),
  EGRESS_ALLOW: egressAllow.default([]),
  SOCIAL_PROVIDER_URLS: providerOrigins(['google', 'microsoft', 'github', 'apple', 'facebook'] as const).default({}),
  SMS_PROVIDER_URLS: providerOrigins(['twilio', 'vonage'] as const).default({}),
  DNS_SERVERS: dnsServers.optional(),
  DOMAIN_RECHECK_INTERVAL_MS: z.coerce.number({ message: 'must be a number' }).int().min(0).default(6 * 3_600_000),
  WEBHOOK_POLL_INTERVAL_MS: positiveInt.max(3_600_000, 'must be at most 3600000').default(1_000),
  WEBHOOK_RETRY_BASE_MS: positiveInt.max(3_600_000, 'must be at most 3600000').default(5_000),
  WEBHOOK_MAX_ATTEMPTS: positiveInt.max(50, 'must be at most 50').default(10),
});

export interface AtriumConfig {
  readonly env: AtriumEnvName;
  readonly port: number;
  readonly host: string;
  /** PUBLIC_URL without a trailing slash. */
  readonly publicUrl: URL;
  readonly databaseUrl: string | undefined;
  /** The owner login for migrations; when set, databaseUrl is a runtime login that owns nothing. */
  readonly databaseMigrationUrl: string | undefined;
  readonly dataDir: string;
  /** REDIS_URL parsed: one server or a cluster's seed nodes (config/redis-target.ts); undefined without Redis. */
  readonly redis: RedisTarget | undefined;
  /** Base64 master key; undefined only in development (a generated key is used). */
  readonly encryptionKey: string | undefined;
  readonly retiredEncryptionKeys: readonly string[];
  readonly multiTenancy: {
    readonly enabled: boolean;
    readonly extractionPriority: readonly ('header' | 'subdomain')[];
    readonly tenantHeader: string;
    readonly pool: { readonly maxSize: number; readonly idleTtlMs: number; readonly cleanupIntervalMs: number };
    /** MULTI_TENANCY_TENANT_MEMORY_MB, worked out (tenant-memory-budget.ts). */ readonly budget: TenantMemoryBudget;
  };
  readonly bootstrap: {
    readonly adminEmail: string | undefined;
    readonly adminPassword: string | undefined;
    readonly clientId: string | undefined;
    readonly clientSecret: string | undefined;
  };
  readonly demo: boolean;
  /** Whose X-Forwarded-For/-Proto to believe; X-Forwarded-Host never is (http/client-address.ts). */
  readonly trustProxy: ProxyTrust;
  /** Off only where something upstream limits requests (or for benchmarks). */
  readonly rateLimitsEnabled: boolean;
  readonly databasePoolSize: number;
  /** Statements prepared once per connection (storage/statement-names.ts); off behind a pooler that cannot keep them. */
  readonly databasePreparedStatements: boolean;
  /** Signing key pairs each instance generates ahead of time for new tenants (oidc/signing-key-pool.ts); 0: none. */
  readonly signingKeyPoolSize: number;
  readonly logLevel: string;
  /** `/metrics`: on the main port behind a bearer token, and/or on a port of its own without one; neither → 404. */
  readonly metrics: { readonly token: string | undefined; readonly port: number | undefined };
  /** How long a sign-in sent to an upstream identity provider may take to come back. */
  readonly oidcStateTtlSeconds: number;
  /** How long, after a tenant's public origin changes, a sign-in begun under the old federation redirect URI may still come back to it. */
  readonly oidcRedirectGracePeriodSeconds: number;
  /** The platform's mail server and sender, for tenants without SMTP settings of their own; neither → development logs mail. */
  readonly smtp: { readonly url: string | undefined; readonly from: string | undefined };
  /**
   * Outbound connections (src/core/egress-guard.ts): hosts and CIDRs the operator allows
   * although they are internal, and whether loopback is allowed (development only, by default).
   */
  readonly egress: { readonly allow: readonly string[]; readonly allowLoopback: boolean };
  /**
   * Where the social sign-in and SMS providers are reached, by name, when not at their public
   * hosts (SOCIAL_PROVIDER_URLS, SMS_PROVIDER_URLS): an operator's proxy, or a test's local
   * stand-in. Allowed by the egress guard as named, like the platform's mail server.
   */
  readonly providerOrigins: { readonly social: Readonly<Partial<Record<'google' | 'microsoft' | 'github' | 'apple' | 'facebook', string>>>; readonly sms: Readonly<Partial<Record<'twilio' | 'vonage', string>>> };
  /** DNS servers for outbound connections and domain verification; unset → the system resolver. */
  readonly dnsServers: readonly string[] | undefined;
  /** How often verified custom domains are checked again (0: never). */
  readonly domainRecheckIntervalMs: number;
  /** The webhook worker: how often it looks for due deliveries, the first retry's delay (doubling each time), attempts before failed. */
  readonly webhooks: { readonly pollIntervalMs: number; readonly retryBaseMs: number; readonly maxAttempts: number };
}

export class ConfigError extends Error {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '127.0.0.1' || hostname === '[::1]';
}

/** Settings that mean something with a PostgreSQL server only, set without one. */
function serverOnlySettings(e: z.infer<typeof schema>, given: Record<string, string | undefined>): string[] {
  if (e.DATABASE_URL) return [];
  return [
    ...(e.DATABASE_MIGRATION_URL ? ['DATABASE_MIGRATION_URL: needs DATABASE_URL (the runtime login) as well'] : []),
    ...(given.DATABASE_PREPARED_STATEMENTS !== undefined ? ['DATABASE_PREPARED_STATEMENTS: applies to a PostgreSQL server only (set DATABASE_URL)'] : []),
  ];
}

/** Parses and validates the environment; throws ConfigError listing every problem. */
export function loadConfig(source: Record<string, string | undefined> = process.env): AtriumConfig {
  // Empty strings mean "unset", as in most .env tooling.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  }
  const e = parsed.data;
  const problems: string[] = [];
  const publicUrl = new URL(e.PUBLIC_URL ?? `http://localhost:${e.PORT || 3000}`);
  if (publicUrl.pathname !== '/' || publicUrl.search || publicUrl.hash) {
    problems.push('PUBLIC_URL: must be an origin without a path, query or fragment');
  }
  if (!['http:', 'https:'].includes(publicUrl.protocol)) problems.push('PUBLIC_URL: must use http or https');
  if (e.ATRIUM_ENV !== 'development') {
    if (publicUrl.protocol === 'http:' && !isLoopbackHost(publicUrl.hostname)) {
      problems.push(`PUBLIC_URL: ${e.ATRIUM_ENV} requires https (http is allowed for localhost only)`);
    }
  }
  if (e.ATRIUM_ENV === 'production') {
    if (!e.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required in production (32 random bytes, base64)');
    if (!e.DATABASE_URL) problems.push('DATABASE_URL: required in production (the embedded database is for development)');
    if (e.ATRIUM_DEMO) problems.push('ATRIUM_DEMO: demo tenants and users are not allowed in production');
  }
  problems.push(...serverOnlySettings(e, cleaned));
  if (Boolean(e.ATRIUM_BOOTSTRAP_ADMIN_EMAIL) !== Boolean(e.ATRIUM_BOOTSTRAP_ADMIN_PASSWORD)) {
    problems.push('ATRIUM_BOOTSTRAP_ADMIN_EMAIL and ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: set both or neither');
  }
  if (Boolean(e.ATRIUM_BOOTSTRAP_CLIENT_ID) !== Boolean(e.ATRIUM_BOOTSTRAP_CLIENT_SECRET)) {
    problems.push('ATRIUM_BOOTSTRAP_CLIENT_ID and ATRIUM_BOOTSTRAP_CLIENT_SECRET: set both or neither');
  }
  if (e.METRICS_PORT !== undefined && e.METRICS_PORT !== 0 && e.METRICS_PORT === e.PORT) problems.push('METRICS_PORT: must differ from PORT');
  if (problems.length) throw new ConfigError(problems);
  const budget = tenantMemoryBudget(e.MULTI_TENANCY_TENANT_MEMORY_MB);
  return Object.freeze({
    env: e.ATRIUM_ENV,
    port: e.PORT,
    host: e.HOST,
    publicUrl,
    databaseUrl: e.DATABASE_URL,
    databaseMigrationUrl: e.DATABASE_MIGRATION_URL,
    dataDir: e.DATA_DIR,
    redis: e.REDIS_URL,
    encryptionKey: e.ENCRYPTION_KEY,
    retiredEncryptionKeys: Object.freeze([...e.ENCRYPTION_KEYS_RETIRED]),
    multiTenancy: Object.freeze({
      enabled: e.MULTI_TENANCY_ENABLED,
      extractionPriority: Object.freeze([...new Set(e.MULTI_TENANCY_EXTRACTION_PRIORITY)]),
      tenantHeader: e.MULTI_TENANCY_TENANT_HEADER.toLowerCase(),
      budget,
      pool: Object.freeze({
        maxSize: Math.min(budget.tenants, e.MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE ?? Infinity),
        idleTtlMs: e.MULTI_TENANCY_PROVIDER_POOL_IDLE_TTL_MS,
        cleanupIntervalMs: e.MULTI_TENANCY_PROVIDER_POOL_CLEANUP_INTERVAL_MS,
      }),
    }),
    bootstrap: Object.freeze({
      adminEmail: e.ATRIUM_BOOTSTRAP_ADMIN_EMAIL?.toLowerCase(),
      adminPassword: e.ATRIUM_BOOTSTRAP_ADMIN_PASSWORD,
      clientId: e.ATRIUM_BOOTSTRAP_CLIENT_ID,
      clientSecret: e.ATRIUM_BOOTSTRAP_CLIENT_SECRET,
    }),
    demo: e.ATRIUM_DEMO,
    trustProxy: Object.freeze({ hops: e.TRUST_PROXY.hops, proxies: e.TRUST_PROXY.proxies && Object.freeze([...e.TRUST_PROXY.proxies]) }),
    rateLimitsEnabled: e.RATE_LIMITS_ENABLED,
    databasePoolSize: e.DATABASE_POOL_SIZE,
    databasePreparedStatements: e.DATABASE_PREPARED_STATEMENTS,
    signingKeyPoolSize: e.SIGNING_KEY_POOL_SIZE,
    logLevel: e.LOG_LEVEL,
    metrics: Object.freeze({ token: e.METRICS_TOKEN, port: e.METRICS_PORT }),
    oidcStateTtlSeconds: e.OIDC_STATE_TTL_SECONDS,
    oidcRedirectGracePeriodSeconds: e.OIDC_REDIRECT_GRACE_PERIOD_SECONDS,
    smtp: Object.freeze({ url: e.SMTP_URL, from: e.SMTP_FROM }),
    egress: Object.freeze({ allow: Object.freeze([...e.EGRESS_ALLOW]), allowLoopback: e.ATRIUM_ENV === 'development' }),
    providerOrigins: Object.freeze({ social: Object.freeze({ ...e.SOCIAL_PROVIDER_URLS }), sms: Object.freeze({ ...e.SMS_PROVIDER_URLS }) }),
    dnsServers: e.DNS_SERVERS ? Object.freeze([...e.DNS_SERVERS]) : undefined,
    domainRecheckIntervalMs: e.DOMAIN_RECHECK_INTERVAL_MS,
    webhooks: Object.freeze({ pollIntervalMs: e.WEBHOOK_POLL_INTERVAL_MS, retryBaseMs: e.WEBHOOK_RETRY_BASE_MS, maxAttempts: e.WEBHOOK_MAX_ATTEMPTS }),
  });
}

/** Every problem with `source` as configuration; empty when it is valid. */
export function configProblems(source: Record<string, string | undefined>): string[] {
  try {
    loadConfig(source);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
}
