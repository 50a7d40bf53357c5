/**
 * The one place that opens a Redis connection: a single server (ioredis `Redis`) or a Redis
 * Cluster (ioredis `Cluster`), from REDIS_URL as config/redis-target.ts parsed it. Callers
 * (the event bus, the rate limiter) say how the connection should behave when Redis is
 * slow or gone; this module knows how each kind of deployment is reached and how a cluster
 * rides out a failover.
 */
import { Cluster, Redis, type ClusterOptions } from 'ioredis';
import type { RedisTarget } from '../config/redis-target.ts';

export type RedisConnection = Redis | Cluster;

export interface RedisConnectionOptions {
  /** Connect on `connect()` rather than at once. */
  readonly lazyConnect: boolean;
  /** Hold commands sent while not connected (false: they fail at once). */
  readonly enableOfflineQueue: boolean;
  readonly maxRetriesPerRequest: number;
  /** A command not answered within this many ms fails. */
  readonly commandTimeout?: number;
  /**
   * The connection will SSUBSCRIBE (sharded pub/sub). In a cluster ioredis then keeps one
   * subscriber connection per master and moves the subscription when a slot changes hands.
   */
  readonly shardedPubSub?: boolean;
  /**
   * Told of every connection error, attached before the connection can fail (an 'error'
   * event without a listener would end the process). A cluster's per-node errors
   * ('node error') come here too, so a failover counts as errors survived.
   */
  readonly onError: (err: Error) => void;
}

/**
 * Cluster timings. A master's replica takes over after the cluster's node timeout plus an
 * election (a few seconds); commands to the lost master's slots meanwhile fail with a closed
 * connection or CLUSTERDOWN, and ioredis retries them after these delays, refreshing its
 * slot map each time, up to `maxRedirections` tries. Callers with a command timeout give
 * up sooner (the rate limiter counts locally, the bus drops one event that the tenant
 * version re-read repairs).
 */
const CLUSTER_TIMINGS = {
  retryDelayOnFailover: 200,
  retryDelayOnClusterDown: 200,
  retryDelayOnTryAgain: 100,
  maxRedirections: 32,
  // The whole cluster unreachable: try again forever, backing off to 2 s (never give up:
  // Redis coming back must not need a restart).
  clusterRetryStrategy: (times: number) => Math.min(100 * times, 2_000),
  // Learn a replica's promotion even when no command has hit the moved slots yet.
  slotsRefreshInterval: 2_000,
} satisfies ClusterOptions;

export function openRedis(target: RedisTarget, options: RedisConnectionOptions): RedisConnection {
  const { lazyConnect, enableOfflineQueue, maxRetriesPerRequest, commandTimeout, shardedPubSub = false, onError } = options;
  if (target.kind === 'single') {
    const client = new Redis(target.url, { lazyConnect, enableOfflineQueue, maxRetriesPerRequest, ...(commandTimeout ? { commandTimeout } : {}) });
    client.on('error', onError);
    return client;
  }
  const cluster = new Cluster(
    target.nodes.map((n) => ({ host: n.host, port: n.port })),
    {
      ...CLUSTER_TIMINGS,
      lazyConnect,
      enableOfflineQueue,
      shardedSubscribers: shardedPubSub,
      redisOptions: {
        maxRetriesPerRequest,
        ...(commandTimeout ? { commandTimeout } : {}),
        ...(target.username ? { username: target.username } : {}),
        ...(target.password ? { password: target.password } : {}),
        ...(target.tls ? { tls: {} } : {}),
      },
    },
  );
  cluster.on('error', onError);
  cluster.on('node error', onError);
  return cluster;
}

