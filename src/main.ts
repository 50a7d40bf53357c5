/** Entry point: read config → start → stop cleanly on SIGTERM/SIGINT. */
import { ConfigError, loadConfig } from './config/env.ts';
import { createLogger } from './core/logger.ts';
import { startAtrium } from './server.ts';
import { demoStart } from './commands/demo.ts';
import { installProcessGuard } from './process-guard.ts';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`atrium: ${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const demo = config.demo ? demoStart(config) : undefined;
  const atrium = await startAtrium(config, log, { beforeListen: demo?.beforeListen });
  installProcessGuard(log, atrium.services.health);
  demo?.print(atrium.port);

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      log.info({ signal }, 'shutting down');
      atrium.stop().then(
        () => process.exit(0),
        (err: unknown) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    });
  }
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`atrium: failed to start: ${message}\n`);
  process.exit(1);
});
