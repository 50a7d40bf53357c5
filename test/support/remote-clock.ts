/**
 * A client that times requests from its own thread. Tests start Atrium in their own process,
 * and the embedded database runs on Atrium's event loop: a client on that loop would wait on
 * whatever the server does after an answer is out (the mail for a known address, say) before
 * it could read the answer, which no real client does. Timed from a worker thread, an answer
 * counts as read when its last byte arrives, as it would across a network.
 */
import { Worker } from 'node:worker_threads';
import type { TestBrowser } from './http-client.ts';

export interface TimedAnswer {
  status: number;
  body: string;
  /** From sending the request to reading the last byte of its answer. */
  ms: number;
}

interface Sent {
  id: number;
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
}
type Answered = { id: number; status: number; setCookie: string[]; body: string; ms: number } | { id: number; error: string };

export class RemoteClock {
  readonly #worker = new Worker(new URL('./remote-clock-worker.ts', import.meta.url));
  readonly #waiting = new Map<number, (answer: Answered) => void>();
  #next = 0;

  constructor() {
    this.#worker.on('message', (answer: Answered) => this.#answer(answer));
    // A thread that dies fails the requests it held, rather than leaving their tests waiting.
    this.#worker.on('error', (err) => this.#failAll(String(err)));
    this.#worker.on('exit', (code) => this.#failAll(`the clock's thread exited (${code})`));
  }

  #answer(answer: Answered): void {
    this.#waiting.get(answer.id)?.(answer);
    this.#waiting.delete(answer.id);
  }

  #failAll(error: string): void {
    for (const id of [...this.#waiting.keys()]) this.#answer({ id, error });
  }

  /** Posts a form as `browser` would (its cookies sent, and those set stored), timed from the worker. */
  postForm(browser: TestBrowser, url: string | URL, form: Record<string, string>): Promise<TimedAnswer> {
    return this.send(browser, url, 'POST', { 'content-type': 'application/x-www-form-urlencoded' }, new URLSearchParams(form).toString());
  }

  async send(browser: TestBrowser, url: string | URL, method: string, headers: Record<string, string> = {}, body?: string): Promise<TimedAnswer> {
    const u = new URL(url);
    const id = this.#next++;
    const answered = new Promise<Answered>((resolve) => this.#waiting.set(id, resolve));
    this.#worker.postMessage({ id, url: u.href, method, headers: browser.headersFor(u, headers), body } satisfies Sent);
    const answer = await answered;
    if ('error' in answer) throw new Error(`${method} ${u.href}: ${answer.error}`);
    browser.storeCookies(u, answer.setCookie);
    return { status: answer.status, body: answer.body, ms: answer.ms };
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}
