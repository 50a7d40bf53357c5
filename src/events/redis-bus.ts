/**
 * The event bus over Redis pub/sub, for several instances of one deployment. Its channel is
 * the deployment's own (storage/deployment-id.ts, made with its database), so deployments
 * sharing a Redis never hear each other's events: a tenant id or slug of one means nothing
 * to another (pub/sub ignores Redis database numbers, so `redis://…/1` would not separate
 * them). One server: PUBLISH/SUBSCRIBE on `atrium:events:<deployment id>`. A cluster:
 * sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7) on `atrium:events:{<deployment id>}`, whose
 * messages stay on the shard owning that slot instead of being broadcast over the cluster
 * bus to every node (DESIGN.md, Redis Cluster).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { RedisTarget } from '../config/redis-target.ts';
import { openRedis } from '../storage/redis-client.ts';
import type { AtriumEvent, EventBus, EventHandler } from './bus.ts';

/** The deployment's channel on one server, and (the braces are a hash tag: its slot decides the shard) in a cluster. */
export function busChannels(deploymentId: string): { channel: string; sharded: string } {
  return { channel: `atrium:events:${deploymentId}`, sharded: `atrium:events:{${deploymentId}}` };
}

/** Told how long another instance's event took to arrive (`sentAt` is the publisher's clock). */
export interface BusLagObserver {
  busEventReceived(type: string, lagMs: number): void;
}

export function createRedisBus(target: RedisTarget, deploymentId: string, log: Logger, lag?: BusLagObserver, onConnectionError: (err: Error) => void = () => {}): EventBus {
  // ioredis reconnects by itself; the errors survived show on /readyz and /metrics.
  const options = { lazyConnect: false, maxRetriesPerRequest: 1, enableOfflineQueue: false, onError: onConnectionError };
  const sharded = target.kind === 'cluster';
  const { channel, sharded: shardedChannel } = busChannels(deploymentId);
  const publisher = openRedis(target, options);
  const subscriber = openRedis(target, { ...options, enableOfflineQueue: true, shardedPubSub: sharded });
  const send = (message: string) => (sharded ? publisher.spublish(shardedChannel, message) : publisher.publish(channel, message));
  const handlers: EventHandler[] = [];
  let healthy = false;
  // This instance acts on its own events at once and skips their echo from Redis.
  const origin = randomUUID();
  const deliver = (event: AtriumEvent) => {
    for (const h of handlers) h(event);
  };

  subscriber.on('ready', () => {
    healthy = true;
  });
  subscriber.on('end', () => {
    healthy = false;
  });
  subscriber.on('close', () => {
    healthy = false;
  });
  const subscribed = sharded ? subscriber.ssubscribe(shardedChannel) : subscriber.subscribe(channel);
  void subscribed.catch((err: Error) => log.warn({ err: err.message }, 'redis subscribe failed; will retry on reconnect'));
  subscriber.on(sharded ? 'smessage' : 'message', (_channel: string, message: string) => {
    let envelope: { origin: string; sentAt?: number; event: AtriumEvent };
    try {
      envelope = JSON.parse(message) as { origin: string; sentAt?: number; event: AtriumEvent };
    } catch {
      log.warn('ignored a malformed bus message');
      return;
    }
    if (envelope.origin === origin || !envelope.event) return;
    if (lag && typeof envelope.sentAt === 'number') lag.busEventReceived(String(envelope.event.type), Date.now() - envelope.sentAt);
    deliver(envelope.event);
  });

  return {
    get healthy() {
      return healthy && publisher.status === 'ready';
    },
    async publish(event) {
      deliver(event);
      // Never awaited: the change is committed and applied here; a request must not wait on
      // Redis (a dead or slow connection would hold every write). An event Redis loses is
      // repaired on the other instances by the tenant version re-read (TenantRegistry's
      // 3 s refresh, then the provider pool's version check).
      if (publisher.status !== 'ready') {
        log.warn({ event: event.type, redis: publisher.status }, 'event not published (Redis not connected); other instances converge by tenant version');
        return;
      }
      send(JSON.stringify({ origin, sentAt: Date.now(), event })).catch((err: unknown) => {
        log.warn({ err: (err as Error).message, event: event.type }, 'could not publish event; other instances converge by tenant version');
      });
    },
    subscribe(handler) {
      handlers.push(handler);
    },
    async close() {
      subscriber.disconnect();
      publisher.disconnect();
    },
  };
}
