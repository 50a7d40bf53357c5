/**
 * A private PostgreSQL cluster (initdb + pg_ctl as user postgres, a free port, its socket in
 * a temp dir) that a test may crash (`pg_ctl stop -m immediate`) and restart. The machine's
 * shared server is never touched.
 */
import { execFile } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './atrium.ts';

const run = promisify(execFile);

function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  const bin = version && path.join(root, version, 'bin');
  return bin && existsSync(path.join(bin, 'pg_ctl')) ? bin : undefined;
}

/** Why a private cluster cannot be started here, or undefined when it can. */
export function privatePostgresMissing(): string | undefined {
  if (!postgresBin()) return 'no initdb/pg_ctl under /usr/lib/postgresql';
  if (userInfo().uid !== 0) return 'starting a cluster as user postgres needs root';
  return undefined;
}

export class PrivatePostgres {
  readonly port: number;
  readonly #dir: string;
  readonly #bin: string;

  private constructor(port: number, dir: string, bin: string) {
    this.port = port;
    this.#dir = dir;
    this.#bin = bin;
  }

  static async start(): Promise<PrivatePostgres> {
    const bin = postgresBin();
    if (!bin) throw new Error('no PostgreSQL binaries');
    const dir = mkdtempSync(path.join(tmpdir(), 'atrium-pg-'));
    const { uid, gid } = await postgresIds();
    chownSync(dir, uid, gid);
    const pg = new PrivatePostgres(await freePort(), dir, bin);
    await pg.#asPostgres('initdb', ['-D', pg.#data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
    await pg.restart();
    return pg;
  }

  /** Superuser URL over TCP on loopback (what Atrium's DATABASE_URL points at). */
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }

  get #data(): string {
    return path.join(this.#dir, 'data');
  }

  /** Starts the cluster (again) and waits until it accepts connections. */
  async restart(): Promise<void> {
    const options = `-p ${this.port} -k ${this.#dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100`;
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-o', options, '-l', path.join(this.#dir, 'log'), '-w', '-t', '30', 'start']);
  }

  /** A crash: every backend dies at once, no checkpoint, as in a failover. */
  async crash(): Promise<void> {
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']);
  }

  async destroy(): Promise<void> {
    await this.#asPostgres('pg_ctl', ['-D', this.#data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(this.#dir, { recursive: true, force: true });
  }

  async #asPostgres(tool: string, args: string[]): Promise<void> {
    await run('runuser', ['-u', 'postgres', '--', path.join(this.#bin, tool), ...args], { cwd: this.#dir });
  }
}

async function postgresIds(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['postgres']);
  const uid = Number(/uid=(\d+)/.exec(stdout)?.[1]);
  const gid = Number(/gid=(\d+)/.exec(stdout)?.[1]);
  return { uid, gid };
}
