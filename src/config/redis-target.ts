/**
 * REDIS_URL: one Redis server, or the seed nodes of a Redis Cluster. Parsed once at start
 * (config/env.ts); a value that cannot be used is refused there with a message naming it.
 *
 *   redis://[user:pass@]host[:port][/db]        one server (rediss:// for TLS)
 *   redis+cluster://[user:pass@]host:port,host:port,...   a cluster (rediss+cluster:// for TLS)
 *   redis://host:port,redis://host:port,...     a cluster, given as a list of seed nodes
 *
 * Seed nodes only start the discovery: the client learns the rest of the cluster from them.
 */
import { z } from 'zod';

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

export type RedisTarget =
  | { readonly kind: 'single'; readonly url: string }
  | {
      readonly kind: 'cluster';
      readonly nodes: readonly RedisNodeAddress[];
      readonly tls: boolean;
      readonly username: string | undefined;
      readonly password: string | undefined;
    };

const FORMS = 'redis://host:port, redis+cluster://host:port,host:port, or a comma-separated list of redis:// seed nodes';

/** The zod field for REDIS_URL: the parsed target, or an issue with the reason. */
export const redisTarget = z.string().transform((value, ctx): RedisTarget => {
  const target = parseRedisTarget(value);
  if (typeof target !== 'string') return target;
  ctx.addIssue({ code: 'custom', message: target });
  return z.NEVER;
});

/** The target, or a message saying what is wrong with `value`. */
export function parseRedisTarget(value: string): RedisTarget | string {
  const trimmed = value.trim();
  const cluster = /^(rediss?)\+cluster:\/\/(.*)$/i.exec(trimmed);
  if (cluster) return parseClusterForm(cluster[1]!.toLowerCase(), cluster[2]!);
  const parts = trimmed.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) return `an empty entry in the list (expected ${FORMS})`;
  if (parts.length === 1) {
    const node = parseNodeUrl(parts[0]!);
    if (typeof node === 'string') return node;
    return { kind: 'single', url: parts[0]! };
  }
  return parseSeedList(parts);
}

/** `redis+cluster://[user:pass@]host:port,host:port`: credentials once, then the nodes. */
function parseClusterForm(scheme: string, rest: string): RedisTarget | string {
  const at = rest.lastIndexOf('@');
  const userinfo = at >= 0 ? rest.slice(0, at) : '';
  const hosts = (at >= 0 ? rest.slice(at + 1) : rest).replace(/\/+$/, '');
  if (!hosts) return `no seed node in ${scheme}+cluster:// (expected ${scheme}+cluster://host:port,host:port)`;
  const nodes: RedisNodeAddress[] = [];
  for (const entry of hosts.split(',').map((h) => h.trim())) {
    if (!entry) return 'an empty seed node in the list';
    if (/[/?#@]/.test(entry)) return `seed node "${entry}" must be host:port (a cluster has only database 0, and credentials go once before the first node)`;
    const node = parseNodeUrl(`${scheme}://${entry}`);
    if (typeof node === 'string') return node;
    nodes.push(node.address);
  }
  let credentials: URL | undefined;
  try {
    credentials = userinfo ? new URL(`${scheme}://${userinfo}@placeholder`) : undefined;
  } catch {
    return 'the credentials before the first seed node are not valid user:password (percent-encode special characters)';
  }
  if (credentials && credentials.hostname !== 'placeholder') return 'the credentials before the first seed node are not valid user:password (percent-encode special characters)';
  return clusterTarget(nodes, scheme === 'rediss', decodeURIComponent(credentials?.username ?? ''), decodeURIComponent(credentials?.password ?? ''));
}

/** `redis://a:7000,redis://b:7001`: every node the same scheme and credentials, database 0. */
function parseSeedList(parts: string[]): RedisTarget | string {
  const parsed = [];
  for (const part of parts) {
    const node = parseNodeUrl(part);
    if (typeof node === 'string') return node;
    if (node.db !== 0) return `seed node ${redact(part)} names database ${node.db}; a cluster has only database 0`;
    parsed.push(node);
  }
  const first = parsed[0]!;
  for (const node of parsed) {
    if (node.tls !== first.tls) return 'seed nodes mix redis:// and rediss://; use one scheme for all';
    if (node.username !== first.username || node.password !== first.password) return 'seed nodes carry different credentials; a cluster has one';
  }
  return clusterTarget(
    parsed.map((n) => n.address),
    first.tls,
    first.username,
    first.password,
  );
}

function clusterTarget(nodes: RedisNodeAddress[], tls: boolean, username: string | undefined, password: string | undefined): RedisTarget {
  return Object.freeze({ kind: 'cluster', nodes: Object.freeze(nodes.map((n) => Object.freeze(n))), tls, username: username || undefined, password: password || undefined });
}

interface ParsedNode {
  address: RedisNodeAddress;
  tls: boolean;
  db: number;
  username: string | undefined;
  password: string | undefined;
}

function parseNodeUrl(text: string): ParsedNode | string {
  if (!/^rediss?:\/\//i.test(text)) return `${redact(text)} is not a Redis URL (expected ${FORMS})`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `${redact(text)} is not a valid URL`;
  }
  if (!url.hostname) return `${redact(text)} has no host`;
  if (url.search || url.hash) return `${redact(text)}: query strings and fragments are not supported`;
  const path = url.pathname.replace(/^\//, '');
  if (path && !/^\d+$/.test(path)) return `${redact(text)}: the path must be a database number`;
  const port = url.port ? Number(url.port) : 6379;
  return {
    address: { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port },
    tls: url.protocol === 'rediss:',
    db: path ? Number(path) : 0,
    username: decodeURIComponent(url.username) || undefined,
    password: decodeURIComponent(url.password) || undefined,
  };
}

/** A URL for a message, without its password. */
function redact(text: string): string {
  return text.replace(/\/\/([^@/]*):([^@/]*)@/, '//$1:***@');
}
