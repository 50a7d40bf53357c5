/**
 * A real nginx in front of a test's Atrium, configured like config/proxy/nginx.conf: it
 * passes Host through and appends the peer's address to X-Forwarded-For. It runs in the
 * foreground as a single process (no master, no privilege drop) with its prefix, pid,
 * logs and temp files in a temp dir, and connects to Atrium from `bindAddress` (another
 * loopback address) so Atrium can tell the proxy from a client connecting directly.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './atrium.ts';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const nginxAvailable = () => existsSync(NGINX_BINARY);

export interface TestNginx {
  port: number;
  /** The address nginx connects to the upstream from. */
  bindAddress: string;
  stop(): Promise<void>;
}

function config(dir: string, port: number, upstreamPort: number, bindAddress: string): string {
  return `
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    server_name _;
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      proxy_bind ${bindAddress};
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}
`;
}

async function waitForPort(port: number, child: ChildProcess, dir: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${await readFile(join(dir, 'error.log'), 'utf8').catch(() => '')}`);
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('nginx did not start listening');
}

/** Starts nginx proxying to 127.0.0.1:upstreamPort, on `port` (default: a free one). */
export async function startNginx(upstreamPort: number, options: { port?: number; bindAddress?: string } = {}): Promise<TestNginx> {
  const bindAddress = options.bindAddress ?? '127.0.0.2';
  const dir = await mkdtemp(join(tmpdir(), 'atrium-nginx-'));
  const port = options.port ?? (await freePort());
  const conf = join(dir, 'nginx.conf');
  await writeFile(conf, config(dir, port, upstreamPort, bindAddress));
  const child = spawn(NGINX_BINARY, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log'), '-g', 'daemon off;'], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForPort(port, child, dir);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    bindAddress,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
