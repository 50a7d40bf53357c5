/**
 * The process's last resort. Every dependency error has a handler where it happens
 * (storage/pg-driver.ts, events/redis-bus.ts, the rate limiter, mail); if one is missed
 * anyway (an `'error'` event without a listener, a rejected promise nobody awaited), it
 * must not take the instance and every request in flight with it: it is logged with its
 * stack, counted (/readyz `dependency_errors.unexpected`, `atrium_unexpected_errors_total`)
 * and the process goes on. Only an error that says the process's own state is corrupt
 * (CorruptStateError, or Node's internal assertions) exits, with a fatal log line.
 */
import type { Logger } from 'pino';
import type { DependencyHealth } from './core/dependency-health.ts';

/** Thrown by code that finds this process's own state broken beyond repair: the one error that exits. */
export class CorruptStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CorruptStateError';
  }
}

function corrupt(err: unknown): boolean {
  return err instanceof CorruptStateError || (err as { code?: string })?.code === 'ERR_INTERNAL_ASSERTION';
}

export function installProcessGuard(log: Logger, health: DependencyHealth): void {
  process.on('uncaughtException', (err, origin) => {
    if (corrupt(err)) {
      log.fatal({ err, origin }, 'exiting: the process state is corrupt');
      process.exit(70); // EX_SOFTWARE
    }
    health.unexpectedError();
    log.error({ err, origin }, 'unexpected error survived (last-resort handler); the process goes on');
  });
  process.on('unhandledRejection', (reason) => {
    if (corrupt(reason)) {
      log.fatal({ err: reason }, 'exiting: the process state is corrupt');
      process.exit(70);
    }
    health.unexpectedError();
    log.error({ err: reason }, 'unhandled promise rejection survived (last-resort handler); the process goes on');
  });
}
