/** Chooses the engine from the configuration, migrates, and returns the Database. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import { Database, type Driver } from './database.ts';
import { createPgDriver } from './pg-driver.ts';
import { createPgliteDriver } from './pglite-driver.ts';
import { migrate } from './migrate.ts';
import type { DependencyHealth } from '../core/dependency-health.ts';
import { loadContextKey } from './context-key.ts';
import { checkRuntimeLogin } from './runtime-login.ts';

/**
 * The embedded database's first start creates a whole PostgreSQL cluster in WebAssembly,
 * which takes seconds with nothing else to show: say so, so a newcomer does not think it hung.
 */
async function openEmbedded(dataDir: string | undefined, log: Logger): Promise<Driver> {
  const fresh = dataDir !== undefined && !existsSync(path.join(dataDir, 'PG_VERSION'));
  if (fresh) log.info({ data_dir: dataDir }, 'initialising the embedded database (first start only; this takes a while)');
  else if (dataDir) log.info({ data_dir: dataDir }, 'opening the embedded database');
  const started = performance.now();
  const driver = await createPgliteDriver(dataDir);
  if (dataDir) log.info({ ms: Math.round(performance.now() - started) }, 'embedded database open');
  return driver;
}

export async function openDatabase(config: AtriumConfig, log: Logger, options: { inMemory?: boolean; health?: DependencyHealth } = {}): Promise<Database> {
  const onConnectionError = (err: Error) => options.health?.errorSurvived('database', err);
  const driver = config.databaseUrl
    ? createPgDriver(config.databaseUrl, config.databasePoolSize, {
        preparedStatements: config.databasePreparedStatements,
        onConnectionError,
        onPreparedStatementsRefused: (err) =>
          log.warn({ err }, 'the database refused a prepared statement (a pooler in transaction mode without prepared-statement support?): running statements unprepared from now on; set DATABASE_PREPARED_STATEMENTS=false to start that way'),
      })
    : await openEmbedded(options.inMemory ? undefined : path.resolve(config.dataDir, 'pglite'), log);
  // Split logins: the owner migrates and hands over the context key, then its pool is closed
  // (before the instance has started, so it never prepares a statement).
  const owner: Driver = config.databaseUrl && config.databaseMigrationUrl ? createPgDriver(config.databaseMigrationUrl, 1, { onConnectionError }) : driver;
  try {
    await migrate(owner, log);
    const key = await loadContextKey(owner);
    if (owner !== driver) await checkRuntimeLogin(driver, log);
    log.info({ engine: driver.kind, split_logins: owner !== driver }, 'database ready');
    return new Database(driver, log, key, options.health);
  } catch (err) {
    await driver.close();
    throw err;
  } finally {
    if (owner !== driver) await owner.close();
  }
}
