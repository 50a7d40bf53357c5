/**
 * What this instance knows about its dependencies (database, Redis, SMTP) and how many of
 * their failures it has survived. Connection errors of every driver are reported here
 * instead of crashing the process (an `'error'` event without a listener would end it);
 * /readyz and /metrics read the counts. The process guard (process-guard.ts) reports here
 * too: an error nothing else caught is counted as `unexpected`, and the process goes on.
 */
import type { Logger } from 'pino';

export type Dependency = 'database' | 'redis' | 'smtp';
export const DEPENDENCIES: readonly Dependency[] = ['database', 'redis', 'smtp'];

/** A connection error of the same dependency is logged at most this often (reconnect loops repeat it). */
const WARN_EVERY_MS = 5_000;

export class DependencyHealth {
  readonly #log: Logger;
  readonly #errors: Record<Dependency, number> = { database: 0, redis: 0, smtp: 0 };
  readonly #lastWarning: Record<Dependency, number> = { database: -Infinity, redis: -Infinity, smtp: -Infinity };
  #smtpFailing = false;
  #databaseUp = true;
  #unexpected = 0;

  constructor(log: Logger) {
    this.#log = log;
  }

  /** A dependency's connection failed (and the caller recovers: reconnects, answers 503, retries). */
  errorSurvived(dependency: Dependency, err: unknown): void {
    this.#errors[dependency]++;
    if (dependency === 'database') this.#databaseUp = false;
    if (dependency === 'smtp') this.#smtpFailing = true;
    const now = Date.now();
    if (now - this.#lastWarning[dependency] < WARN_EVERY_MS) return;
    this.#lastWarning[dependency] = now;
    this.#log.warn({ dependency, err: err instanceof Error ? err.message : String(err), errors_survived: this.#errors[dependency] }, 'dependency connection error survived');
  }

  /** The outcome of the last database round trip (a transaction, the readiness probe). */
  databaseReachable(up: boolean): void {
    this.#databaseUp = up;
  }

  get databaseUp(): boolean {
    return this.#databaseUp;
  }

  /** A mail went out: the SMTP server works again. */
  smtpSucceeded(): void {
    this.#smtpFailing = false;
  }

  get smtpState(): 'ok' | 'failing' {
    return this.#smtpFailing ? 'failing' : 'ok';
  }

  /** An error that reached the process's last-resort handler. */
  unexpectedError(): void {
    this.#unexpected++;
  }

  errors(dependency: Dependency): number {
    return this.#errors[dependency];
  }

  get unexpectedErrors(): number {
    return this.#unexpected;
  }

  /** For /readyz: errors survived per dependency, and unexpected ones. */
  snapshot(): Record<Dependency | 'unexpected', number> {
    return { ...this.#errors, unexpected: this.#unexpected };
  }
}
