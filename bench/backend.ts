/**
 * Where Atrium keeps its data during the bench:
 *   - DATABASE_URL set: a fresh database `bench_<random>` on that server;
 *   - else PostgreSQL on 127.0.0.1:5432, if it answers: the same;
 *   - else embedded PGlite in a temporary DATA_DIR.
 * Whatever is created is removed by `cleanup`, which the bench always runs.
 * REDIS_URL, when set, is passed on (the Redis event bus).
 *
 * The multi-instance figures need a Redis: `chooseRedis` finds one (REDIS_URL, else
 * 127.0.0.1:6379) or says why there is none. The bench creates nothing in it: the
 * instances only publish and subscribe.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';

const LOCAL_SERVER = 'postgres://127.0.0.1:5432/postgres';

export interface Backend {
  /** One line for the report. */
  description: string;
  /** Environment for the Atrium children (DATABASE_URL or DATA_DIR, REDIS_URL). */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

/**
 * pg takes the user from PGUSER or USER when the URL names none; a bare container often
 * has neither, so fall back to `postgres`, the conventional superuser.
 */
function withDefaultUser(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (!url.username && !process.env.PGUSER && !process.env.USER) url.username = 'postgres';
  return url.toString();
}

async function connect(serverUrl: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: serverUrl, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {}); // a dropped admin connection must not crash the bench
  await client.connect();
  return client;
}

async function postgresBackend(serverUrl: string): Promise<Backend> {
  const name = `bench_${randomBytes(6).toString('hex')}`;
  const admin = await connect(serverUrl);
  let version: string;
  try {
    version = String((await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]?.server_version ?? '?');
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    description: `PostgreSQL ${version.split(' ')[0]} at ${url.host}, database ${name} (created for this run, dropped at the end)`,
    env: { DATABASE_URL: url.toString() },
    async cleanup() {
      const c = await connect(serverUrl);
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

async function pgliteBackend(): Promise<Backend> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'atrium-bench-'));
  return {
    description: `embedded PGlite, DATA_DIR=${dir} (removed at the end)`,
    env: { DATA_DIR: dir },
    cleanup: () => rm(dir, { recursive: true, force: true }),
  };
}

async function reachable(serverUrl: string): Promise<boolean> {
  try {
    const c = await connect(serverUrl);
    await c.end();
    return true;
  } catch {
    return false;
  }
}

export async function chooseBackend(): Promise<Backend> {
  const configured = process.env.DATABASE_URL;
  let backend: Backend;
  if (configured) backend = await postgresBackend(configured);
  else if (await reachable(withDefaultUser(LOCAL_SERVER))) backend = await postgresBackend(withDefaultUser(LOCAL_SERVER));
  else backend = await pgliteBackend();

  const redisUrl = process.env.REDIS_URL;
  if (redisUrl) backend.env.REDIS_URL = redisUrl;
  backend.description += redisUrl ? `; Redis event bus (${new URL(redisUrl).host})` : '; in-process event bus';
  return backend;
}

const LOCAL_REDIS = 'redis://127.0.0.1:6379';

export type RedisChoice = { url: string; description: string } | { url?: undefined; skipped: string };

/** PINGs the server once, without retrying; returns its version. */
async function redisVersion(url: string): Promise<string> {
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
  let cause: Error | undefined; // connect() itself only says "Connection is closed"
  redis.on('error', (err: Error) => (cause ??= err));
  try {
    await redis.connect();
    if ((await redis.ping()) !== 'PONG') throw new Error('no PONG');
    return /redis_version:(\S+)/.exec(await redis.info('server'))?.[1] ?? '?';
  } catch (err) {
    throw cause ?? err;
  } finally {
    redis.disconnect();
  }
}

const describeError = (err: unknown) => (err instanceof Error ? err.message : String(err)) || 'no answer';

/** REDIS_URL if set (it must answer), else the local default if it answers. */
export async function chooseRedis(): Promise<RedisChoice> {
  const configured = process.env.REDIS_URL;
  const url = configured || LOCAL_REDIS;
  try {
    const version = await redisVersion(url);
    return { url, description: `Redis ${version} at ${new URL(url).host}${configured ? ' (REDIS_URL)' : ''}` };
  } catch (err) {
    return { skipped: `${configured ? `REDIS_URL (${new URL(url).host})` : `no REDIS_URL, and ${new URL(url).host}`} did not answer PING: ${describeError(err)}` };
  }
}
