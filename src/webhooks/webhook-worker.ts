/**
 * The delivery loop every instance runs: a round every `pollIntervalMs`, and at once when a
 * change of this instance committed outbox rows (`wake`). Rounds never overlap in one
 * instance; instances share the work through the claim (webhook-delivery.ts). A failing
 * round (the database away) is logged and the loop goes on; `stop` waits for the round in
 * flight, so shutdown leaves no post half-recorded that it could have finished.
 */
import type { Logger } from 'pino';
import type { WebhookDeliverer } from './webhook-delivery.ts';

const BATCH = 50;

export class WebhookWorker {
  readonly #deliverer: WebhookDeliverer;
  readonly #log: Logger;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(deliverer: WebhookDeliverer, log: Logger, intervalMs: number) {
    this.#deliverer = deliverer;
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  start(): this {
    this.#schedule();
    return this;
  }

  /** Runs a round now (or right after the one in flight). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running) this.#again = true;
    else this.#running = this.#rounds();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.wake(), this.#intervalMs);
    this.#timer.unref();
  }

  async #rounds(): Promise<void> {
    clearTimeout(this.#timer);
    try {
      for (;;) {
        this.#again = false;
        const { delivered, failed } = await this.#deliverer.round(BATCH);
        if (delivered || failed) this.#log.debug({ delivered, failed }, 'webhook round');
        // A full batch means more are due; a wake during the round may have added rows.
        if (this.#stopped || (delivered + failed < BATCH && !this.#again)) break;
      }
    } catch (err) {
      this.#log.warn({ err }, 'webhook delivery round failed; retrying at the next interval');
    } finally {
      this.#running = undefined;
      this.#schedule();
    }
  }
}
