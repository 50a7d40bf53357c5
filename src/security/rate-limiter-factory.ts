/** Chooses the rate limiter from the configuration. */
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { MemoryRateLimiter, type ClosableRateLimiter } from './rate-limiter.ts';
import { RedisRateLimiter } from './rate-limiter-redis.ts';

/** Never counts: RATE_LIMITS_ENABLED=false, for deployments limited upstream (and benchmarks). */
const unlimited: ClosableRateLimiter = {
  async consume(_key, rule) {
    return { allowed: true, remaining: rule.limit, retryAfterSeconds: 0 };
  },
  async reset() {},
  async close() {},
};

/** Redis (counting in memory whenever Redis is unavailable) when REDIS_URL is set, else in memory. */
export function createRateLimiter(config: AtriumConfig, log: Logger, box: SecretBox, deploymentId: string, onConnectionError?: (err: Error) => void): ClosableRateLimiter {
  if (!config.rateLimitsEnabled) return unlimited;
  // From the current master key and the deployment (storage/deployment-id.ts): every instance
  // of a deployment derives the same one, and another deployment on the same Redis counts
  // apart even for a tenant of the same id (a moved tenant keeps it) under the same master key.
  const hashKey = box.deriveKeys('rate-limit-subjects', `deployment:${deploymentId}`)[0]!;
  const memory = new MemoryRateLimiter(hashKey);
  return config.redis ? new RedisRateLimiter(config.redis, log, memory, hashKey, { onConnectionError }) : memory;
}
