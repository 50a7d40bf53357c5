/** Chooses the engine from the configuration, migrates, and returns the Database. */
import path from 'node:path';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import { Database } from './database.ts';
import { createPgDriver } from './pg-driver.ts';
import { createPgliteDriver } from './pglite-driver.ts';
import { migrate } from './migrate.ts';
import type { DependencyHealth } from '../http/dependency-health.ts';

export async function openDatabase(config: AtriumConfig, log: Logger, options: { inMemory?: boolean; health?: DependencyHealth } = {}): Promise<Database> {
  const driver = config.databaseUrl
    ? createPgDriver(config.databaseUrl, config.databasePoolSize, (err) => options.health?.errorSurvived('database', err))
    : await createPgliteDriver(options.inMemory ? undefined : path.resolve(config.dataDir, 'pglite'));
  try {
    await migrate(driver, log);
  } catch (err) {
    await driver.close();
    throw err;
  }
  log.info({ engine: driver.kind }, 'database ready');
  return new Database(driver, log, options.health);
}
