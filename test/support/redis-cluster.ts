/**
 * A private Redis Cluster (Debian's redis-server with --cluster-enabled, then
 * `redis-cli --cluster create`) on free ports in a temp dir: 3 masters, each with one
 * replica. A test may kill a master and watch its replica take over. The machine's shared
 * Redis on 6379 is never touched.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { freePort } from './atrium.ts';

const run = promisify(execFile);
const REDIS_SERVER = '/usr/bin/redis-server';
const REDIS_CLI = '/usr/bin/redis-cli';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Why a cluster cannot be started here, or undefined when it can. */
export function redisClusterMissing(): string | undefined {
  for (const bin of [REDIS_SERVER, REDIS_CLI]) if (!existsSync(bin)) return `${bin} is not installed; the Redis Cluster tests are skipped`;
  return undefined;
}

interface ClusterNode {
  port: number;
  busPort: number;
  child: ChildProcess | undefined;
}

export class PrivateRedisCluster {
  readonly #dir: string;
  readonly nodes: ClusterNode[];

  private constructor(dir: string, nodes: ClusterNode[]) {
    this.#dir = dir;
    this.nodes = nodes;
  }

  /**
   * `masters` masters with `replicasPerMaster` replicas each; resolves once cluster_state is
   * ok everywhere. A cluster that does not get there is stopped and made again once, on new
   * ports: on a loaded machine a node was seen left out by all the others (5/6 nodes for 30 s).
   */
  static async start(masters = 3, replicasPerMaster = 1): Promise<PrivateRedisCluster> {
    try {
      return await PrivateRedisCluster.#startOnce(masters, replicasPerMaster);
    } catch {
      return await PrivateRedisCluster.#startOnce(masters, replicasPerMaster);
    }
  }

  static async #startOnce(masters: number, replicasPerMaster: number): Promise<PrivateRedisCluster> {
    const dir = mkdtempSync(path.join(tmpdir(), 'atrium-redis-cluster-'));
    const nodes: ClusterNode[] = [];
    for (let i = 0; i < masters * (1 + replicasPerMaster); i++) nodes.push({ port: await freePort(), busPort: await freePort(), child: undefined });
    const cluster = new PrivateRedisCluster(dir, nodes);
    try {
      for (const node of nodes) cluster.#spawn(node);
      await Promise.all(nodes.map((n) => cluster.#waitForPing(n.port)));
      const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
      await run(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', String(replicasPerMaster), '--cluster-yes'], { timeout: 30_000 });
      await cluster.waitUntilHealthy(nodes.length, 30_000);
      await cluster.waitForReplication(masters * replicasPerMaster, 30_000);
    } catch (err) {
      await cluster.stop();
      throw err;
    }
    return cluster;
  }

  /** REDIS_URL for Atrium: two seed nodes are enough for the client to find the rest. */
  get url(): string {
    return `redis+cluster://127.0.0.1:${this.nodes[0]!.port},127.0.0.1:${this.nodes[1]!.port}`;
  }

  #spawn(node: ClusterNode): void {
    const args = [
      '--port', String(node.port),
      '--cluster-port', String(node.busPort),
      '--bind', '127.0.0.1',
      '--cluster-enabled', 'yes',
      '--cluster-config-file', `nodes-${node.port}.conf`,
      // A failed master is noticed in 2 s and its replica elected right after.
      '--cluster-node-timeout', '2000',
      '--dir', this.#dir,
      '--save', '',
      '--appendonly', 'no',
      '--logfile', path.join(this.#dir, `${node.port}.log`),
    ];
    node.child = spawn(REDIS_SERVER, args, { stdio: 'ignore' });
  }

  async #waitForPing(port: number): Promise<void> {
    for (let i = 0; ; i++) {
      try {
        await this.command(port, 'PING');
        return;
      } catch (err) {
        if (i > 100) throw new Error(`redis-server on ${port} did not start: ${(err as Error).message}`, { cause: err });
        await sleep(50);
      }
    }
  }

  /** One command to one node, on a short-lived connection. */
  async command(port: number, ...args: string[]): Promise<unknown> {
    const client = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    client.on('error', () => {});
    try {
      await client.connect();
      return await client.call(args[0]!, ...args.slice(1));
    } finally {
      client.disconnect();
    }
  }

  /** Every running node says cluster_state:ok and knows `expected` connected nodes. */
  async waitUntilHealthy(expected: number, withinMs: number): Promise<void> {
    const started = Date.now();
    let last = '';
    while (Date.now() - started < withinMs) {
      const states = await Promise.all(
        this.running().map(async (n) => {
          try {
            const info = String(await this.command(n.port, 'CLUSTER', 'INFO'));
            const nodes = String(await this.command(n.port, 'CLUSTER', 'NODES'));
            const connected = nodes.split('\n').filter((l) => l.includes(' connected') && !/\bfail\b|\bfail\?/.test(l)).length;
            return info.includes('cluster_state:ok') && connected === expected ? 'ok' : `${n.port}: ${/cluster_state:\w+/.exec(info)?.[0]} ${connected}/${expected} nodes`;
          } catch (err) {
            return `${n.port}: ${(err as Error).message}`;
          }
        }),
      );
      if (states.every((s) => s === 'ok')) return;
      last = states.filter((s) => s !== 'ok').join('; ');
      await sleep(200);
    }
    throw new Error(`the Redis Cluster did not become healthy within ${withinMs} ms: ${last}`);
  }

  /**
   * `--cluster create` returns before the replicas have synced; a replica that never did
   * cannot be elected (its data counts as too old), so wait for every link to be up.
   */
  async waitForReplication(replicas: number, withinMs: number): Promise<void> {
    const started = Date.now();
    while (Date.now() - started < withinMs) {
      const infos = await Promise.all(this.running().map((n) => this.command(n.port, 'INFO', 'replication').then(String, () => '')));
      if (infos.filter((i) => i.includes('role:slave') && i.includes('master_link_status:up')).length === replicas) return;
      await sleep(200);
    }
    throw new Error(`the replicas did not finish syncing within ${withinMs} ms`);
  }

  running(): ClusterNode[] {
    return this.nodes.filter((n) => n.child && n.child.exitCode === null && n.child.signalCode === null);
  }

  /** The port of the master serving `slot`, as a running node reports it. */
  async masterOf(slot: number): Promise<number> {
    const slots = (await this.command(this.running()[0]!.port, 'CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    const range = slots.find(([from, to]) => slot >= from && slot <= to);
    if (!range) throw new Error(`no node serves slot ${slot}`);
    return Number(range[2][1]);
  }

  /** Waits until a replica serves `slot` in place of `oldMaster` and the cluster is ok again; the ms it took. */
  async waitForFailover(slot: number, oldMaster: number, withinMs: number): Promise<number> {
    const started = Date.now();
    while (Date.now() - started < withinMs) {
      const master = await this.masterOf(slot).catch(() => oldMaster);
      if (master !== oldMaster) {
        await this.waitUntilHealthy(this.running().length, withinMs - (Date.now() - started));
        return Date.now() - started;
      }
      await sleep(100);
    }
    throw new Error(`no replica took over slot ${slot} from ${oldMaster} within ${withinMs} ms`);
  }

  async keySlot(key: string): Promise<number> {
    return Number(await this.command(this.running()[0]!.port, 'CLUSTER', 'KEYSLOT', key));
  }

  /** Starts a killed node again on its port and config: it rejoins as a replica of whoever took over. */
  async restart(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    if (!node) throw new Error(`no node on ${port}`);
    this.#spawn(node);
    await this.#waitForPing(port);
  }

  /** SIGKILL to one node: a crashed master, as its replica and the client see it. */
  async kill(port: number): Promise<void> {
    const node = this.nodes.find((n) => n.port === port);
    const child = node?.child;
    if (!node || !child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => this.kill(n.port)));
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
