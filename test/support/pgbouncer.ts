/**
 * A private PgBouncer in transaction pooling mode, in front of the PostgreSQL of a test
 * (README, Scaling out): its own process on a free port, its config and auth file in a temp
 * dir, stopped by the test that started it. Never a shared one. Every database name is
 * forwarded (`* =`), so the fresh per-test databases need no entry.
 *
 * The pool is small on purpose (`default_pool_size`): a handful of server connections serve
 * every client, so state one transaction leaves on a server connection (a session SET, a
 * session advisory lock, a LISTEN, a named prepared statement) would meet another client's
 * next transaction — exactly what transaction pooling does in production.
 *
 * ATRIUM_TEST_PGBOUNCER=1 (CI's PgBouncer run) makes test/support/atrium.ts and
 * atrium-process.ts route Atrium's DATABASE_URL through one of these.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from './atrium.ts';

const BINARY = '/usr/sbin/pgbouncer';

export const pgbouncerRequested = (): boolean => process.env.ATRIUM_TEST_PGBOUNCER === '1';

/** Why a private PgBouncer cannot be started here, or undefined when it can. */
export function pgbouncerMissing(): string | undefined {
  return existsSync(BINARY) ? undefined : `no ${BINARY} (apt-get install pgbouncer)`;
}

export interface PgBouncer {
  port: number;
  /** `url` (a database on the bouncer's upstream server) rewritten to go through the bouncer. */
  route(url: string): string;
  /** SHOW <what> on the admin console (`pgbouncer` database), as rows. */
  show(what: 'POOLS' | 'STATS' | 'SERVERS' | 'CLIENTS'): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Logins that may connect (trust: names only; the upstream checks passwords itself). */
  users?: string[];
  /** Server connections per database/user pair. */
  poolSize?: number;
}

/** Starts a bouncer in front of the server of `serverUrl` (host and port only are taken). */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const missing = pgbouncerMissing();
  if (missing) throw new Error(missing);
  const upstream = new URL(serverUrl);
  const users = [...new Set(['postgres', ...(options.users ?? [])])];
  const dir = mkdtempSync(path.join(tmpdir(), 'atrium-pgbouncer-'));
  // PgBouncer refuses to run as root: as root, it runs as postgres (-u) and must read its dir.
  const asRoot = userInfo().uid === 0;
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    writeFileSync(path.join(dir, 'users.txt'), users.map((u) => `"${u}" ""\n`).join(''));
    writeFileSync(path.join(dir, 'pgbouncer.ini'), config(dir, port, upstream, options.poolSize ?? 4));
    if (asRoot) chownTree(dir);
    const child = spawn(BINARY, [...(asRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (await ready(port, child)) return handle(port, child, exited, dir);
    child.kill('SIGKILL');
    await exited;
    // Another process may have taken the free port between the probe and the bind: retry.
    if (attempt >= 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`pgbouncer did not start:\n${stderr}`);
    }
  }
}

function config(dir: string, port: number, upstream: URL, poolSize: number): string {
  return `[databases]
* = host=${upstream.hostname} port=${upstream.port || 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = ${port}
unix_socket_dir =
auth_type = trust
auth_file = ${path.join(dir, 'users.txt')}
admin_users = postgres
pool_mode = transaction
default_pool_size = ${poolSize}
max_client_conn = 500
logfile = ${path.join(dir, 'pgbouncer.log')}
pidfile = ${path.join(dir, 'pgbouncer.pid')}
`;
}

function chownTree(dir: string): void {
  const out = execFileSync('id', ['postgres']).toString();
  const uid = Number(/uid=(\d+)/.exec(out)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(out)?.[1]);
  chownSync(dir, uid, gid);
  for (const f of ['users.txt', 'pgbouncer.ini']) chownSync(path.join(dir, f), uid, gid);
}

async function ready(port: number, child: ChildProcess): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null || child.signalCode !== null) return false;
    const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pgbouncer` });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SHOW VERSION'); // no parameters: the simple query protocol the console speaks
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await c.end().catch(() => {});
    }
  }
  return false;
}

function handle(port: number, child: ChildProcess, exited: Promise<void>, dir: string): PgBouncer {
  return {
    port,
    route(url) {
      const routed = new URL(url);
      routed.hostname = '127.0.0.1';
      routed.port = String(port);
      return routed.toString();
    },
    async show(what) {
      const c = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${port}/pgbouncer` });
      await c.connect();
      try {
        return (await c.query(`SHOW ${what}`)).rows as Record<string, unknown>[];
      } finally {
        await c.end();
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGINT');
        const timer = setTimeout(() => child.kill('SIGKILL'), 3_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
