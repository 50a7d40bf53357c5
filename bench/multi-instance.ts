/**
 * "Many instances, one truth": how long a change made through one Atrium instance takes to
 * be served by another one on the same database and Redis.
 *
 * For each sample a tenant B has never served is first read through B (so B holds a fresh
 * tenant record and a built Provider, and without an event would keep serving them until
 * its tenant cache entry expires), then its keys are rotated through A's management API,
 * and from the moment A's answer is in, B's JWKS is polled every few milliseconds until it
 * lists the new current keys. The time measured is A's answer → B's first answer with the
 * new keys: the event over Redis, B dropping its cached record, reading the new version and
 * rebuilding the tenant's Provider, and up to one polling interval.
 *
 * The bench also listens on the instances' Redis channel (their deployment's, read from the
 * database), like one more instance, to tell when each event was on Redis relative to A's answer.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { Pool } from 'undici';
import { timedRequest, type RequestSpec } from './load.ts';
import type { AtriumAdmin } from './targets.ts';
import { busChannels } from '../src/events/redis-bus.ts';

export interface PropagationSample {
  slug: string;
  /** A's rotate answer received → B's first JWKS answer listing the new current keys. */
  ms: number;
  /** JWKS requests B answered until then, the successful one included (1 = already there). */
  polls: number;
  /** Answers from B other than 200 while polling. */
  failures: number;
  /** How long the rotate request took, as the management API client saw it. */
  rotateMs: number;
  /** Age of B's view of the tenant when A answered: B read it this long before. */
  bViewAgeMs: number;
  /** How long before A's answer the bench's own subscriber had the event (NaN: never seen). */
  eventBeforeAnswerMs: number;
}

export interface EventWatch {
  /** When (performance.now()) the first `keys.rotated` event for the tenant arrived, if it did. */
  rotatedAt(slug: string): number | undefined;
  close(): void;
}

/** The channel of the deployment on `databaseUrl` (src/events/redis-bus.ts): named by its id, which the owner reads as is. */
async function eventChannel(databaseUrl: string): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    const id = (await client.query<{ id: string }>('SELECT id FROM deployment')).rows[0]?.id;
    if (!id) throw new Error('no deployment id in the database (migration 025)');
    return busChannels(id).channel;
  } finally {
    await client.end();
  }
}

/** Subscribes to the instances' channel and notes when each tenant's key rotation is announced. */
export async function watchEvents(url: string, databaseUrl: string): Promise<EventWatch> {
  const channel = await eventChannel(databaseUrl);
  const seen = new Map<string, number>();
  const redis = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, maxRetriesPerRequest: 0 });
  redis.on('error', () => {}); // a lost watcher only leaves the supplementary figure empty
  redis.on('message', (_channel: string, message: string) => {
    const at = performance.now();
    try {
      const { event } = JSON.parse(message) as { event?: { type?: string; slug?: string } };
      if (event?.type === 'keys.rotated' && event.slug && !seen.has(event.slug)) seen.set(event.slug, at);
    } catch {
      /* not an Atrium event */
    }
  });
  try {
    await redis.connect();
    await redis.subscribe(channel);
  } catch (err) {
    redis.disconnect();
    throw err;
  }
  return { rotatedAt: (slug) => seen.get(slug), close: () => redis.disconnect() };
}

export interface PropagationOptions {
  admin: AtriumAdmin;
  /** Pools to instance A (warming its tenant record) and instance B (the polled side). */
  a: Pool;
  b: Pool;
  slugs: readonly string[];
  host: (slug: string) => string;
  jwksPath: string;
  pollEveryMs: number;
  /** Give up on one sample after this long (the change never reached B). */
  timeoutMs: number;
  progress: (message: string) => void;
  events: EventWatch;
}

const jwksRequest = (host: string, path: string): RequestSpec => ({ method: 'GET', path, headers: { host } });

function kidsOf(body: string): Set<string> {
  return new Set((JSON.parse(body) as { keys: { kid: string }[] }).keys.map((k) => k.kid));
}

export async function measurePropagation(o: PropagationOptions): Promise<PropagationSample[]> {
  const samples: PropagationSample[] = [];
  const answeredAt: number[] = [];
  for (const slug of o.slugs) {
    const request = jwksRequest(o.host(slug), o.jwksPath);
    // A first (the rotate call looks the tenant up there), then B, as late as possible.
    const onA = await timedRequest(o.a, request);
    if (onA.status !== 200) throw new Error(`${slug} JWKS on A: HTTP ${onA.status} ${onA.body.slice(0, 300)}`);
    const onB = await timedRequest(o.b, request);
    if (onB.status !== 200) throw new Error(`${slug} JWKS on B: HTTP ${onB.status} ${onB.body.slice(0, 300)}`);
    const bViewAt = performance.now();
    const before = kidsOf(onB.body);

    const sent = performance.now();
    const fresh = await o.admin.rotateKeys(slug);
    const answered = performance.now();
    if (fresh.some((kid) => before.has(kid))) throw new Error(`${slug}: the rotation kept a current kid`);

    let polls = 0;
    let failures = 0;
    for (;;) {
      const pollSent = performance.now();
      const res = await timedRequest(o.b, request);
      const received = performance.now();
      polls++;
      if (res.status === 200) {
        const kids = kidsOf(res.body);
        if (fresh.every((kid) => kids.has(kid))) {
          samples.push({ slug, ms: received - answered, polls, failures, rotateMs: answered - sent, bViewAgeMs: answered - bViewAt, eventBeforeAnswerMs: NaN });
          answeredAt.push(answered);
          break;
        }
      } else failures++;
      if (received - answered > o.timeoutMs) {
        throw new Error(`${slug}: B still served the old keys ${o.timeoutMs} ms after A rotated them (last: HTTP ${res.status} ${res.body.slice(0, 200)})`);
      }
      await sleep(Math.max(0, o.pollEveryMs - (received - pollSent)));
    }
    const last = samples.at(-1)!;
    if (samples.length % 10 === 0 || samples.length === o.slugs.length) {
      o.progress(`  ${samples.length}/${o.slugs.length}: ${slug} reached B ${last.ms.toFixed(1)} ms after A answered (polls: ${last.polls})`);
    }
  }
  // The watcher may hear of the last event only now: its times are read at the end.
  await sleep(50);
  return samples.map((x, i) => {
    const eventAt = o.events.rotatedAt(x.slug);
    return { ...x, eventBeforeAnswerMs: eventAt === undefined ? NaN : answeredAt[i]! - eventAt };
  });
}
