/**
 * Atrium instances as separate processes (`node src/main.ts`), as an operator runs them
 * behind a load balancer: one PostgreSQL database, one Redis, one PUBLIC_URL, one
 * ENCRYPTION_KEY. Each listens on a port of its own choosing, read from its start-up log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, ALL_PLATFORM_SCOPES, createTestDatabase, testServerUrl } from './atrium.ts';
import { loopbackAgent } from './http-client.ts';
import { pgbouncerRequested, startPgBouncer } from './pgbouncer.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface AtriumProcess {
  child: ChildProcess;
  port: number;
  /** Every line the process logged (JSON), for assertions and failure messages. */
  logs: string[];
  /** A request to this instance with the Host of `host` (a tenant or the platform host). */
  request(host: string, path: string, init?: { method?: string; headers?: Record<string, string>; body?: string }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; text: string; json: any }>;
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface Deployment {
  publicUrl: string;
  /** The tenant's host as clients see it (`{slug}.localhost:{port of PUBLIC_URL}`). */
  host(slug?: string): string;
  databaseUrl: string;
  env: Record<string, string>;
  start(extraEnv?: Record<string, string>): Promise<AtriumProcess>;
  /** A management API token from the platform tenant, taken from `instance`. */
  platformToken(instance: AtriumProcess, scope?: string): Promise<string>;
  drop(): Promise<void>;
}

/**
 * A deployment sharing one database and Redis; needs DATABASE_URL and REDIS_URL, or a
 * server of the test's own (`servers`: a private cluster and redis-server it may crash).
 */
export async function createDeployment(extraEnv: Record<string, string> = {}, servers: { serverUrl?: string; redisUrl?: string } = {}): Promise<Deployment> {
  const serverUrl = servers.serverUrl ?? testServerUrl();
  const redisUrl = servers.redisUrl ?? process.env.REDIS_URL;
  if (!serverUrl || !redisUrl) throw new Error('a multi-instance deployment needs DATABASE_URL and REDIS_URL');
  const database = await createTestDatabase(serverUrl);
  // ATRIUM_TEST_PGBOUNCER=1: every instance reaches the database through one private PgBouncer
  // in transaction mode (migrations included), as instances behind a pooler do in production.
  const bouncer = pgbouncerRequested() ? await startPgBouncer(database.url) : undefined;
  // The load balancer's address: instances never listen on it; requests carry its Host.
  const publicUrl = `http://localhost:${40000 + Math.floor(Math.random() * 20000)}`;
  const env = {
    ATRIUM_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    MULTI_TENANCY_ENABLED: 'true',
    DATABASE_URL: bouncer ? bouncer.route(database.url) : database.url,
    // PgBouncer 1.18 (Debian's) cannot keep prepared statements in transaction mode: turned off, as README says.
    ...(bouncer ? { DATABASE_PREPARED_STATEMENTS: 'false' } : {}),
    REDIS_URL: redisUrl,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ATRIUM_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_CLIENT_ID,
    ATRIUM_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_CLIENT_SECRET,
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  const port = new URL(publicUrl).port;
  const started: AtriumProcess[] = [];
  // Every child, including one still starting, so drop() can never leave one running.
  const children = new Set<ChildProcess>();
  return {
    publicUrl,
    host: (slug) => (slug ? `${slug}.localhost:${port}` : `localhost:${port}`),
    databaseUrl: database.url,
    env,
    async start(more = {}) {
      const instance = await startProcess({ ...env, ...more }, (child) => children.add(child));
      started.push(instance);
      return instance;
    },
    platformToken: (instance, scope) => platformToken(instance, port, scope),
    async drop() {
      await killAll(started, children);
      await bouncer?.stop();
      await database.drop();
    },
  };
}

/**
 * A deployment of one instance on embedded PGlite (DATA_DIR in a fresh temporary directory)
 * and the in-process bus: a second, independent Atrium beside the one a test runs in
 * process, whichever engine that one uses. `drop` stops it and removes the directory.
 */
export async function createEmbeddedDeployment(extraEnv: Record<string, string> = {}): Promise<Omit<Deployment, 'databaseUrl'> & { dataDir: string }> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'atrium-embedded-'));
  const publicUrl = `http://localhost:${40000 + Math.floor(Math.random() * 20000)}`;
  const env: Record<string, string> = {
    ATRIUM_ENV: 'development',
    PORT: '0',
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    MULTI_TENANCY_ENABLED: 'true',
    DATA_DIR: dataDir,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    ATRIUM_BOOTSTRAP_CLIENT_ID: BOOTSTRAP_CLIENT_ID,
    ATRIUM_BOOTSTRAP_CLIENT_SECRET: BOOTSTRAP_CLIENT_SECRET,
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  // The child must not inherit the test run's PostgreSQL or Redis.
  const childEnv = { ...env, DATABASE_URL: '', DATABASE_MIGRATION_URL: '', REDIS_URL: '' };
  const port = new URL(publicUrl).port;
  const started: AtriumProcess[] = [];
  const children = new Set<ChildProcess>();
  return {
    publicUrl,
    dataDir,
    host: (slug) => (slug ? `${slug}.localhost:${port}` : `localhost:${port}`),
    env,
    async start(more = {}) {
      const instance = await startProcess({ ...childEnv, ...more }, (child) => children.add(child), 150_000);
      started.push(instance);
      return instance;
    },
    platformToken: (instance, scope) => platformToken(instance, port, scope),
    async drop() {
      await killAll(started, children);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A management API token from the bootstrap client, through `instance`. */
async function platformToken(instance: AtriumProcess, port: string, scope = ALL_PLATFORM_SCOPES): Promise<string> {
  const res = await instance.request(`localhost:${port}`, '/token', {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${BOOTSTRAP_CLIENT_ID}:${BOOTSTRAP_CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
  });
  if (!res.json?.access_token) throw new Error(`no platform token: ${res.text}`);
  return res.json.access_token as string;
}

/** Every instance started, and any child still starting: none is left running. */
async function killAll(started: readonly AtriumProcess[], children: ReadonlySet<ChildProcess>): Promise<void> {
  await Promise.all(started.map((p) => p.stop('SIGKILL')));
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

/** `startTimeoutMs`: a loaded machine can take most of a minute to compile and migrate embedded PGlite. */
async function startProcess(env: Record<string, string>, onSpawn: (child: ChildProcess) => void, startTimeoutMs = 30_000): Promise<AtriumProcess> {
  const child = spawn(process.execPath, ['src/main.ts'], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  onSpawn(child);
  const logs: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`atrium did not start within ${startTimeoutMs} ms:\n${logs.join('\n')}`)), startTimeoutMs);
    let buffer = '';
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        logs.push(line);
        if (line.includes('"atrium listening"')) {
          clearTimeout(timer);
          resolve((JSON.parse(line) as { port: number }).port);
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (c: Buffer) => logs.push(c.toString()));
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`atrium exited with ${code}:\n${logs.join('\n')}`));
    });
  });
  return {
    child,
    port,
    logs,
    async request(host, path, init = {}) {
      const res = await request(`http://127.0.0.1:${port}${path}`, {
        method: (init.method ?? 'GET') as 'GET',
        headers: { host, ...(init.headers ?? {}) },
        body: init.body,
        dispatcher: loopbackAgent,
      });
      const text = await res.body.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.statusCode, headers: res.headers, text, json };
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      return exited;
    },
  };
}
