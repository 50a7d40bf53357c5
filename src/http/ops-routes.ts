/** The `_ops` endpoints: stateless JSON for load balancers, on every host, before tenant resolution. */
import type { Context, Next } from 'koa';
import type { Database } from '../storage/database.ts';
import type { EventBus } from '../events/bus.ts';
import { currentMigration, LATEST_MIGRATION } from '../storage/migrate.ts';
import type { DependencyHealth } from '../core/dependency-health.ts';

/**
 * `/readyz`: `checks` has each dependency's state (database and migrations always, redis and
 * smtp when configured); `dependency_errors` counts the connection errors this instance
 * survived per dependency, and `unexpected` the errors its last-resort handler caught.
 * Only the database (and shutting down) makes it 503: Redis and SMTP degrade.
 */
export function opsRoutes(deps: { db: Database; bus: EventBus; health: DependencyHealth; redisConfigured: boolean; smtpConfigured: boolean; isShuttingDown: () => boolean }) {
  return async function opsEndpoints(ctx: Context, next: Next): Promise<void> {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return next();
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path !== '/readyz') return next();
    const checks: Record<string, string> = {};
    let ready = !deps.isShuttingDown();
    try {
      const version = await currentMigration(deps.db.driver);
      checks.database = 'ok';
      checks.migrations = version >= LATEST_MIGRATION ? 'ok' : `behind (${version} < ${LATEST_MIGRATION})`;
      if (version < LATEST_MIGRATION) ready = false;
      deps.health.databaseReachable(true);
    } catch {
      checks.database = 'unreachable';
      deps.health.databaseReachable(false);
      ready = false;
    }
    if (deps.redisConfigured) checks.redis = deps.bus.healthy ? 'ok' : 'degraded';
    if (deps.smtpConfigured) checks.smtp = deps.health.smtpState === 'ok' ? 'ok' : 'degraded';
    const degraded = checks.redis === 'degraded' || checks.smtp === 'degraded';
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? (degraded ? 'degraded' : 'ok') : 'unavailable', checks, dependency_errors: deps.health.snapshot() };
  };
}
