/**
 * The server processes the bench starts: spawned with an IPC channel (for probe.ts),
 * their output kept (the tail, for error messages; error-level log lines, counted), and
 * all of them stopped by `stopAll` whatever happens. Only children spawned here are ever
 * signalled, each by its own pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProbeAnswer, ProbeRequest } from './probe.ts';

const running = new Set<ServerChild>();

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export class ServerChild {
  readonly name: string;
  readonly port: number;
  readonly #proc: ChildProcess;
  readonly #exited: Promise<void>;
  #exitCode: number | string | null = null;
  #tail = '';
  #pending = new Map<number, (answer: ProbeAnswer) => void>();
  #nextId = 1;
  /** Lines at pino level error (50) or fatal (60) the child has written. */
  errorLines = 0;

  constructor(name: string, port: number, args: string[], env: NodeJS.ProcessEnv, cwd: string) {
    this.name = name;
    this.port = port;
    this.#proc = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const keep = (chunk: Buffer) => {
      const text = chunk.toString();
      this.errorLines += text.match(/"level":(50|60)\b/g)?.length ?? 0;
      this.#tail = (this.#tail + text).slice(-4000);
    };
    this.#proc.stdout!.on('data', keep);
    this.#proc.stderr!.on('data', keep);
    this.#proc.on('message', (answer: ProbeAnswer) => {
      this.#pending.get(answer.id)?.(answer);
      this.#pending.delete(answer.id);
    });
    this.#exited = new Promise((resolve) =>
      this.#proc.once('exit', (code, signal) => {
        this.#exitCode = code ?? signal;
        for (const settle of this.#pending.values()) settle({ id: 0, error: `${name} exited (${this.#exitCode})` });
        this.#pending.clear();
        running.delete(this);
        resolve();
      }),
    );
    running.add(this);
  }

  get exited(): boolean {
    return this.#exitCode !== null;
  }

  /** The last few KB of the child's output, for error messages. */
  get tail(): string {
    return this.#tail.trim();
  }

  /** Polls `path` with the given Host until it answers 200; fails fast if the child dies. */
  async waitReady(path: string, host: string, timeoutMs = 90_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`${this.name} exited during start-up (${this.#exitCode}):\n${this.tail}`);
      const ok = await new Promise<boolean>((resolve) => {
        const req = net.connect(this.port, '127.0.0.1');
        req.once('error', () => resolve(false));
        req.once('connect', () => {
          req.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
          let head = '';
          req.on('data', (d: Buffer) => (head += d.toString()));
          req.once('close', () => resolve(/^HTTP\/1\.1 200 /.test(head)));
        });
      });
      if (ok) return;
      await sleep(200);
    }
    throw new Error(`${this.name} did not become ready within ${timeoutMs} ms:\n${this.tail}`);
  }

  /** Asks the child's probe (probe.ts) a question over IPC. */
  async ask(type: ProbeRequest['type']): Promise<ProbeAnswer> {
    if (this.exited) throw new Error(`${this.name} is not running`);
    const id = this.#nextId++;
    const answer = await new Promise<ProbeAnswer>((resolve) => {
      this.#pending.set(id, resolve);
      this.#proc.send({ id, type } satisfies ProbeRequest);
    });
    if (answer.error) throw new Error(`${this.name}: ${answer.error}`);
    return answer;
  }

  /** SIGTERM (both servers shut down gracefully on it), then SIGKILL if it lingers. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exited) return;
    this.#proc.kill('SIGTERM');
    const timer = setTimeout(() => this.#proc.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.stop()));
}
