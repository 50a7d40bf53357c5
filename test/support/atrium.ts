/**
 * Starts a real Atrium in the test process: against the PostgreSQL of DATABASE_URL (a fresh
 * database per test file, dropped afterwards) and REDIS_URL when set, else embedded PGlite
 * in memory and the in-process bus. One per test file; always stopped in `after`.
 */
import http from 'node:http';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/env.ts';
import { startAtrium, type RunningAtrium } from '../../src/server.ts';
import { ApiContract } from './api-contract.ts';
import { httpFetch } from './http-client.ts';
import { startTestDns, type TestDns } from './dns-server.ts';
import { pgbouncerRequested, startPgBouncer } from './pgbouncer.ts';

export const BOOTSTRAP_CLIENT_ID = 'platform-test';
export const BOOTSTRAP_CLIENT_SECRET = randomBytes(32).toString('base64url');
export const ALL_PLATFORM_SCOPES = 'atrium:tenants:read atrium:tenants:write atrium:tenants:delete atrium:tenants:transfer atrium:cross-tenant:read atrium:cross-tenant:write atrium:platform:read atrium:platform:write';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

/** DATABASE_URL of the test run; a URL without a user name means the `postgres` superuser. */
export function testServerUrl(): string | undefined {
  if (!process.env.DATABASE_URL) return undefined;
  const url = new URL(process.env.DATABASE_URL);
  if (!url.username) url.username = 'postgres';
  return url.toString();
}

/**
 * With ATRIUM_TEST_SPLIT_LOGIN=1 (CI's extra run), Atrium runs as a runtime login that owns
 * nothing and migrates as the owner (README, Database roles): the env to start it so.
 */
export async function splitLoginEnv(databaseUrl: string): Promise<{ env: Record<string, string>; drop: () => Promise<void> }> {
  const role = `atrium_rt_${randomBytes(5).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  try {
    for (const r of ['atrium_app', 'atrium_platform']) await admin.query(`DO $$ BEGIN CREATE ROLE ${r} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
    await admin.query(`CREATE ROLE ${role} LOGIN NOINHERIT PASSWORD '${password}'`);
    await admin.query(`GRANT atrium_app, atrium_platform TO ${role}`);
  } finally {
    await admin.end();
  }
  const runtime = new URL(databaseUrl);
  runtime.username = role;
  runtime.password = password;
  return {
    env: { DATABASE_URL: runtime.toString(), DATABASE_MIGRATION_URL: databaseUrl },
    async drop() {
      const c = new pg.Client({ connectionString: testServerUrl() });
      await c.connect();
      await c.query(`DROP ROLE IF EXISTS ${role}`).catch(() => {});
      await c.end();
    },
  };
}

/** A fresh database on the server of DATABASE_URL; returns its URL and a drop function. */
export async function createTestDatabase(serverUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `atrium_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: serverUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export interface TestAtrium {
  atrium: RunningAtrium;
  baseUrl: string;
  port: number;
  /** Issuer of a tenant by slug (subdomain of localhost). */
  issuer(slug: string): string;
  /** A management API access token with the given scopes. */
  platformToken(scope?: string): Promise<string>;
  /** Calls the management API with a token carrying every platform scope. */
  api(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any; headers: Headers }>;
  /** The DNS server Atrium asks (DNS_SERVERS), the test's own on loopback. */
  dns: TestDns;
  /** Adds a custom domain and proves it through its DNS challenge: it routes from then on. */
  addVerifiedDomain(slug: string, domain: string, options?: { primary?: boolean }): Promise<{ status: number; body: any }>;
  stop(): Promise<void>;
}

export async function startTestAtrium(
  env: Record<string, string> = {},
  options: { databaseUrl?: string; keyLifecycleIntervalMs?: number; /** Where log lines go (LOG_LEVEL decides which); stdout otherwise. */ logStream?: NodeJS.WritableStream } = {},
): Promise<TestAtrium> {
  // Bind first, then derive PUBLIC_URL from the port: no window for another process to take it.
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  // options.databaseUrl: a database the caller created (and drops) itself.
  const serverUrl = options.databaseUrl ? undefined : testServerUrl();
  const database = serverUrl ? await createTestDatabase(serverUrl) : undefined;
  const dns = await startTestDns();
  const split = database && process.env.ATRIUM_TEST_SPLIT_LOGIN === '1' ? await splitLoginEnv(database.url) : undefined;
  // With ATRIUM_TEST_PGBOUNCER=1, the runtime login goes through a private PgBouncer in
  // transaction mode; migrations too, unless split logins send them to the server directly.
  const bouncer = database && pgbouncerRequested() ? await startPgBouncer(database.url, { users: split ? [new URL(split.env.DATABASE_URL ?? '').username] : [] }) : undefined;
  const databaseEnv: Record<string, string> = database ? { DATABASE_URL: database.url, ...split?.env } : {};
  // PgBouncer 1.18 (Debian's) cannot keep prepared statements in transaction mode: turned off, as README says.
  if (bouncer && database) Object.assign(databaseEnv, { DATABASE_URL: bouncer.route(split?.env.DATABASE_URL ?? database.url), DATABASE_PREPARED_STATEMENTS: 'false' });
  const config = loadConfig({
    DNS_SERVERS: dns.server,
    ATRIUM_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: `http://localhost:${port}`,
    MULTI_TENANCY_ENABLED: 'true',
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ATRIUM_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_CLIENT_ID,
    ATRIUM_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_CLIENT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Two pairs ahead, not the default eight: each test starts an instance, and a full pool is
    // ~0.5 s of CPU that most tests never use. The pool's own tests set their size.
    SIGNING_KEY_POOL_SIZE: '2',
    ...databaseEnv,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
    // `{port}` in a value: the port just bound (PUBLIC_URL=https://localhost:{port}, say).
    ...Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replaceAll('{port}', String(port))])),
  });
  const log = options.logStream ? pino({ level: config.logLevel }, options.logStream) : pino({ level: config.logLevel });
  let atrium: RunningAtrium;
  try {
    atrium = await startAtrium(config, log, { inMemoryDatabase: true, server, keyLifecycleIntervalMs: options.keyLifecycleIntervalMs });
  } catch (err) {
    server.close();
    await bouncer?.stop();
    await database?.drop();
    await dns.close();
    await split?.drop();
    throw err;
  }
  const baseUrl = `http://localhost:${port}`;
  const tokens = new Map<string, string>();

  async function platformToken(scope = ALL_PLATFORM_SCOPES): Promise<string> {
    const cached = tokens.get(scope);
    if (cached) return cached;
    const res = await httpFetch(`${baseUrl}/token`, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${BOOTSTRAP_CLIENT_ID}:${BOOTSTRAP_CLIENT_SECRET}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    const json = (await res.json()) as { access_token?: string };
    if (!json.access_token) throw new Error(`no platform token: ${JSON.stringify(json)}`);
    tokens.set(scope, json.access_token);
    return json.access_token;
  }

  let contract: Promise<ApiContract> | undefined;
  async function api(method: string, path: string, body?: unknown, token?: string) {
    const res = await httpFetch(`${baseUrl}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token ?? (await platformToken())}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      /* not JSON: keep the text for the assertion message */
    }
    // Every answer is checked against the published contract: a mismatch fails the test.
    contract ??= ApiContract.load(baseUrl);
    const problem = (await contract).problem(method, path, res.status, res.headers.get('content-type'), parsed);
    if (problem) throw new Error(`API contract: ${problem}`);
    return { status: res.status, body: parsed, headers: res.headers as unknown as Headers };
  }

  return {
    atrium,
    baseUrl,
    port,
    issuer: (slug) => `http://${slug}.localhost:${port}`,
    platformToken,
    api,
    dns,
    async addVerifiedDomain(slug, domain, options = {}) {
      const added = await api('POST', `/tenants/${slug}/domains`, { domain, ...options });
      if (added.status !== 201) return added;
      const { name, value } = (added.body as { challenge: { dns: { name: string; value: string } } }).challenge.dns;
      dns.setTxt(name, value);
      const verified = await api('POST', `/tenants/${slug}/domains/${encodeURIComponent((added.body as { domain: string }).domain)}/verify`);
      return verified.status === 200 ? { ...verified, status: 201 } : verified;
    },
    async stop() {
      await atrium.stop(2_000, 0);
      await bouncer?.stop();
      await database?.drop();
      await dns.close();
      await split?.drop();
    },
  };
}
