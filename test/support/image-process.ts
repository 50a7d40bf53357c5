/**
 * Atrium started from an image file set (test/support/dockerfile.ts) as the container
 * would run it: the image's CMD in its WORKDIR, only the image's ENV plus what the
 * deployment passes (no variable of the test process leaks in), and, when the tests run
 * as root, as an unprivileged user who owns none of the files, like the image's USER.
 */
import { spawn, execFile } from 'node:child_process';
import { chmodSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import type { ImageFileSet } from './dockerfile.ts';

/** `nobody`: the image's USER owns nothing in /app either. */
const UNPRIVILEGED = { uid: 65534, gid: 65534 };

export interface ImageProcess {
  logs: string[];
  /** GET on the instance, for /readyz and friends. */
  get(path: string): Promise<{ status: number; text: string }>;
  /** Runs the image's HEALTHCHECK command against the instance; resolves its exit code. */
  healthcheck(): Promise<number>;
  exited(): boolean;
  stop(): Promise<void>;
}

export function startImage(image: ImageFileSet, deploymentEnv: Record<string, string>, port: number): ImageProcess {
  // The image root is a private temp dir: let the unprivileged user reach the files (read only).
  chmodSync(image.root, 0o755);
  const runAs = process.getuid?.() === 0 ? UNPRIVILEGED : {};
  // The official node image has node on its PATH; here that is the Node 24 running the tests.
  const env = { PATH: `${path.dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin`, HOME: '/tmp', ...image.env, ...deploymentEnv, PORT: String(port) };
  const cwd = path.join(image.root, image.workdir);
  const [command, ...args] = image.cmd;
  const child = spawn(command!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], ...runAs });
  const logs: string[] = [];
  child.stdout.on('data', (c: Buffer) => logs.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => logs.push(c.toString()));
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    logs,
    async get(p) {
      const res = await request(`http://127.0.0.1:${port}${p}`, { headers: { host: 'localhost' } });
      return { status: res.statusCode, text: await res.body.text() };
    },
    healthcheck() {
      const [hc, ...hcArgs] = image.healthcheck ?? ['false'];
      return new Promise((resolve) => {
        const probe = execFile(hc!, hcArgs, { cwd, env, timeout: 3000, ...runAs });
        probe.once('exit', (code) => resolve(code ?? 1));
      });
    },
    exited: () => child.exitCode !== null || child.signalCode !== null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await done;
    },
  };
}

/** Polls /readyz until 200; fails at once with the logs if the process died. */
export async function waitReady(instance: ImageProcess, timeoutMs = 30_000): Promise<{ status: number; text: string }> {
  const deadline = Date.now() + timeoutMs;
  let last = { status: 0, text: '' };
  while (Date.now() < deadline) {
    if (instance.exited()) throw new Error(`the image's process exited:\n${instance.logs.join('')}`);
    try {
      last = await instance.get('/readyz');
      if (last.status === 200) return last;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`/readyz never answered 200 (last ${last.status} ${last.text}):\n${instance.logs.join('')}`);
}
