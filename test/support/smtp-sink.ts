/**
 * A real SMTP server for tests (smtp-server + mailparser): Atrium sends to it over SMTP as
 * it would to any mail server, and the test reads what arrived, links included.
 */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

export interface ReceivedMail {
  to: string[];
  from: string;
  /** The display name of the From header ("Acme Security" <no-reply@…>), if any. */
  fromName: string | undefined;
  subject: string;
  text: string;
  html: string;
  /** Every http(s) URL in the text part, in order. */
  links: string[];
  /** The user name the client authenticated with, if it did. */
  authUser: string | undefined;
  authPassword: string | undefined;
}

export class SmtpSink {
  readonly mails: ReceivedMail[] = [];
  readonly #server: SMTPServer;
  readonly #waiters = new Set<() => void>();
  port = 0;

  private constructor() {
    const auth = new Map<string, { user: string; password: string }>();
    this.#server = new SMTPServer({
      authOptional: true,
      allowInsecureAuth: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (a, session, callback) => {
        auth.set(session.id, { user: a.username ?? '', password: a.password ?? '' });
        callback(null, { user: a.username });
      },
      onData: (stream, session, callback) => {
        simpleParser(stream)
          .then((parsed) => {
            const text = parsed.text ?? '';
            this.mails.push({
              to: session.envelope.rcptTo.map((r) => r.address.toLowerCase()),
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
              fromName: parsed.from?.value[0]?.name || undefined,
              subject: parsed.subject ?? '',
              text,
              html: typeof parsed.html === 'string' ? parsed.html : '',
              links: text.match(/https?:\/\/[^\s<>"]+/g) ?? [],
              authUser: auth.get(session.id)?.user,
              authPassword: auth.get(session.id)?.password,
            });
            for (const wake of this.#waiters) wake();
            callback();
          })
          .catch((err: Error) => callback(err));
      },
    });
  }

  static async start(): Promise<SmtpSink> {
    const sink = new SmtpSink();
    await new Promise<void>((resolve, reject) => {
      sink.#server.once('error', reject);
      sink.#server.listen(0, '127.0.0.1', () => resolve());
    });
    sink.port = (sink.#server.server.address() as AddressInfo).port;
    return sink;
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }

  /** Mails sent to `address` so far. */
  to(address: string): ReceivedMail[] {
    return this.mails.filter((m) => m.to.includes(address.toLowerCase()));
  }

  /** The `n`-th mail (1-based) to `address`, waiting for it to arrive. */
  async waitFor(address: string, n = 1, timeoutMs = 10_000): Promise<ReceivedMail> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.to(address);
      if (found.length >= n) return found[n - 1]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no mail #${n} to ${address} within ${timeoutMs} ms (got ${found.length})`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.#waiters.add(wake);
      });
    }
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
