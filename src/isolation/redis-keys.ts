/**
 * The isolation self-audit's check of Redis: every key under Atrium's prefix (`atrium:`)
 * carries a tenant's hash tag, `atrium:{<tenant id>}:…` (security/rate-limiter.ts), so a
 * tenant's keys are its own and sit on one cluster slot. A sample: SCAN, never KEYS, up to
 * a bounded number of keys. Other applications' keys in a shared Redis are not looked at.
 */
import { Cluster } from 'ioredis';
import type { RedisTarget } from '../config/redis-target.ts';
import { openRedis } from '../storage/redis-client.ts';
import type { IsolationCheck } from './isolation-report.ts';

const TAGGED = /^atrium:\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}:/;
const SAMPLE = 5_000;

export async function checkRedisKeys(target: RedisTarget | undefined): Promise<IsolationCheck> {
  if (!target) return { name: 'redis-keys', status: 'skip', detail: 'not configured (REDIS_URL unset: rate limits and events stay in the process)' };
  // A connection of its own, closed at the end: an unreachable Redis is a failed check (the errors surface in the failed command).
  const client = openRedis(target, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 3_000, onError: () => {} });
  try {
    await client.connect();
    const untagged: string[] = [];
    let seen = 0;
    // In a cluster every master holds its own slots' keys: each is scanned.
    for (const node of client instanceof Cluster ? client.nodes('master') : [client]) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', 'atrium:*', 'COUNT', 1000);
        cursor = next;
        for (const key of keys) {
          seen++;
          if (!TAGGED.test(key)) untagged.push(key);
        }
      } while (cursor !== '0' && seen < SAMPLE);
    }
    return untagged.length
      ? { name: 'redis-keys', status: 'fail', detail: `${untagged.length} of ${seen} sampled keys carry no tenant tag`, problems: untagged.slice(0, 20).map((k) => `untagged key ${k.slice(0, 120)}`) }
      : { name: 'redis-keys', status: 'pass', detail: `${seen} sampled keys under atrium:, each tagged with its tenant` };
  } finally {
    client.disconnect();
  }
}
