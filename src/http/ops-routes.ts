/** The `_ops` endpoints: stateless JSON for load balancers, on every host, before tenant resolution. */
import type { Context, Next } from 'koa';
import type { Database } from '../storage/database.ts';
import type { EventBus } from '../events/bus.ts';
import { currentMigration, LATEST_MIGRATION } from '../storage/migrate.ts';

export function opsRoutes(deps: { db: Database; bus: EventBus; redisConfigured: boolean; isShuttingDown: () => boolean }) {
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
    } catch {
      checks.database = 'unreachable';
      ready = false;
    }
    if (deps.redisConfigured) checks.redis = deps.bus.healthy ? 'ok' : 'degraded';
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? (checks.redis === 'degraded' ? 'degraded' : 'ok') : 'unavailable', checks };
  };
}
