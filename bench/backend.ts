/**
 * Where Atrium keeps its data during the bench:
 *   - DATABASE_URL set: a fresh database `bench_<random>` on that server;
 *   - else PostgreSQL on 127.0.0.1:5432, if it answers: the same;
 *   - else embedded PGlite in a temporary DATA_DIR.
 * Whatever is created is removed by `cleanup`, which the bench always runs.
 * REDIS_URL, when set, is passed on (the Redis event bus).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
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
