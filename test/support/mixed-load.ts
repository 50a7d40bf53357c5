/**
 * Mixed load on Atrium instances, as a fault test needs it: sign-ins through the pages,
 * client_credentials and refresh_token grants, management API reads and writes, each loop
 * pinned to one instance. Every answer is classified and counted per phase:
 *   ok      2xx/3xx
 *   503     503 carrying a correlation id (and `temporarily_unavailable` when JSON)
 *   refused ECONNREFUSED: the instance was not listening (after its SIGTERM)
 *   bad:... anything else (another status, a 503 without correlation id, a reset connection)
 */
import type { Dispatcher } from 'undici';
import { request } from 'undici';
import { hiddenInput, pinnedAgent, TestBrowser } from './http-client.ts';
import { REDIRECT_URI } from './fixtures.ts';

export interface LoadTarget {
  name: string;
  port: number;
}

export interface LoadTenant {
  host: string;
  issuer: string;
  apiHost: string;
  apiToken: string;
  webClient: { id: string; secret: string };
  m2mClient: { id: string; secret: string };
  user: { email: string; password: string };
}

type Outcome = 'ok' | '503' | 'refused' | `bad:${string}`;

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
  text: string;
}

const basic = (c: { id: string; secret: string }) => `Basic ${Buffer.from(`${c.id}:${c.secret}`).toString('base64')}`;

export function classify(reply: Reply): Outcome {
  if (reply.status < 400) return 'ok';
  if (reply.status === 503) {
    const cid = reply.headers['x-correlation-id'];
    if (!cid) return 'bad:503-without-correlation-id';
    if (reply.json && reply.json.error !== 'temporarily_unavailable') return `bad:503-${String(reply.json.error)}`;
    return '503';
  }
  return `bad:${reply.status} ${reply.json ? JSON.stringify(reply.json).slice(0, 120) : (/<title>([^<]*)/.exec(reply.text)?.[1] ?? reply.text.slice(0, 80))}`;
}

/** A bad outcome names its path (its first segment: interaction ids vary). */
function withPath(outcome: Outcome, path: string): Outcome {
  if (!outcome.startsWith('bad:')) return outcome;
  const p = new URL(path, 'http://x').pathname.split('/').slice(0, 2).join('/');
  return `${outcome} at ${p}` as Outcome;
}

function classifyError(err: unknown): Outcome {
  const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
  if (code === 'ECONNREFUSED') return 'refused';
  return `bad:${code ?? ''} ${(err as Error).message}`;
}

/** One request through `agent`; a connection error is thrown. */
export async function send(agent: Dispatcher, host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply> {
  const res = await request(`http://${host}${path}`, { method: (init.method ?? 'GET') as 'GET', headers: init.headers, body: init.body, dispatcher: agent });
  const text = await res.body.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.statusCode, headers: res.headers, json, text };
}

export class MixedLoad {
  readonly #tenant: LoadTenant;
  readonly #agents = new Map<string, Dispatcher>();
  #phase = 'warm-up';
  #running = false;
  readonly #loops: Promise<void>[] = [];
  /** phase -> kind -> outcome -> count */
  readonly counts = new Map<string, Map<string, Map<Outcome, number>>>();
  /** Instances that answered Connection: close or refused: loops against them stop (a balancer takes them out). */
  readonly #gone = new Set<string>();

  constructor(tenant: LoadTenant) {
    this.#tenant = tenant;
  }

  agent(target: LoadTarget): Dispatcher {
    let agent = this.#agents.get(target.name);
    if (!agent) this.#agents.set(target.name, (agent = pinnedAgent(target.port)));
    return agent;
  }

  set phase(name: string) {
    this.#phase = name;
  }

  record(kind: string, outcome: Outcome): void {
    const byKind = this.counts.get(this.#phase) ?? new Map<string, Map<Outcome, number>>();
    this.counts.set(this.#phase, byKind);
    const byOutcome = byKind.get(kind) ?? new Map<Outcome, number>();
    byKind.set(kind, byOutcome);
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  /** Outcomes of a phase summed over kinds. */
  totals(phase: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const byOutcome of this.counts.get(phase)?.values() ?? []) for (const [o, n] of byOutcome) out[o] = (out[o] ?? 0) + n;
    return out;
  }

  /** Every "bad" outcome of a phase, with its kind. */
  bad(phase: string): string[] {
    const out: string[] = [];
    for (const [kind, byOutcome] of this.counts.get(phase) ?? []) for (const [o, n] of byOutcome) if (o.startsWith('bad:')) out.push(`${kind}: ${o} x${n}`);
    return out;
  }

  start(targets: LoadTarget[]): void {
    this.#running = true;
    for (const target of targets) {
      const loops: [string, () => Promise<void>][] = [
        ['sign-in', () => this.signIn(target).then(() => undefined)],
        ['client-credentials', () => this.clientCredentials(target)],
        ['client-credentials', () => this.clientCredentials(target)],
        ['refresh', () => this.refreshLoop(target)],
        ['api', () => this.apiCalls(target)],
      ];
      for (const [, step] of loops) this.#loops.push(this.#loop(target, step));
    }
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops.splice(0));
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.all([...this.#agents.values()].map((a) => a.close()));
  }

  async #loop(target: LoadTarget, step: () => Promise<void>): Promise<void> {
    while (this.#running && !this.#gone.has(target.name)) {
      await step();
      // A short pause keeps the load mixed without saturating a shared, 2-core machine.
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Sends, classifies and counts one request; undefined when it did not get an answer. */
  async call(target: LoadTarget, kind: string, host: string, path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Reply | undefined> {
    try {
      const reply = await send(this.agent(target), host, path, init);
      this.record(kind, withPath(classify(reply), path));
      if (reply.headers.connection === 'close') this.#gone.add(target.name);
      return reply;
    } catch (err) {
      const outcome = classifyError(err);
      if (outcome === 'refused') this.#gone.add(target.name);
      this.record(kind, outcome);
      return undefined;
    }
  }

  async clientCredentials(target: LoadTarget): Promise<void> {
    await this.call(target, 'client-credentials', this.#tenant.host, '/token', {
      method: 'POST',
      headers: { authorization: basic(this.#tenant.m2mClient), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
  }

  /** A refresh_token grant; returns the next refresh token (rotation) or undefined. */
  async refresh(target: LoadTarget, refreshToken: string, kind = 'refresh'): Promise<{ reply: Reply | undefined; next: string | undefined }> {
    const reply = await this.call(target, kind, this.#tenant.host, '/token', {
      method: 'POST',
      headers: { authorization: basic(this.#tenant.webClient), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken }).toString(),
    });
    return { reply, next: reply?.status === 200 ? (reply.json.refresh_token as string) : undefined };
  }

  /** Signs in with a fresh refresh token chain, then refreshes it until the load stops. */
  async refreshLoop(target: LoadTarget): Promise<void> {
    let token = await this.signIn(target, 'refresh-sign-in');
    while (token && this.#running && !this.#gone.has(target.name)) {
      const { reply, next } = await this.refresh(target, token);
      // After a 503 the same token is tried again (the grant may not have happened).
      if (next) token = next;
      else if (reply?.status !== 503) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async apiCalls(target: LoadTarget): Promise<void> {
    const t = this.#tenant;
    const headers = { authorization: `Bearer ${t.apiToken}`, 'content-type': 'application/json' };
    await this.call(target, 'api-read', t.apiHost, '/api/v1/tenants/acme/users?limit=5', { headers });
    await this.call(target, 'api-write', t.apiHost, '/api/v1/tenants/acme', { method: 'PATCH', headers, body: JSON.stringify({ name: `Acme ${Date.now()}` }) });
  }

  /**
   * A sign-in through the pages (authorize, login form, consent) and the code exchange;
   * each response counted. Returns the refresh token, or undefined when a step failed.
   */
  async signIn(target: LoadTarget, kind = 'sign-in'): Promise<string | undefined> {
    const t = this.#tenant;
    const browser = new TestBrowser(this.agent(target));
    const steps = async (): Promise<string | undefined> => {
      const authorize = new URL(`${t.issuer}/auth`);
      authorize.search = new URLSearchParams({ client_id: t.webClient.id, response_type: 'code', scope: 'openid offline_access', prompt: 'consent', redirect_uri: REDIRECT_URI }).toString();
      let url = authorize;
      for (let i = 0; i < 12; i++) {
        if (url.href.startsWith(REDIRECT_URI)) break;
        const res = await browser.request(url);
        const text = await res.text();
        const reply: Reply = { status: res.status, headers: Object.fromEntries(res.headers), json: undefined, text };
        this.record(kind, withPath(classify(reply), url.pathname));
        if (res.headers.get('connection') === 'close') this.#gone.add(target.name);
        if (res.status >= 300 && res.status < 400) {
          url = new URL(res.headers.get('location')!, url);
          continue;
        }
        if (res.status !== 200) return undefined;
        const csrf = hiddenInput(text, 'csrf');
        const base = url.href.replace(/\/$/, '');
        const form: { path: string; body: Record<string, string> } = text.includes('name="password"') ? { path: `${base}/login`, body: { csrf, email: t.user.email, password: t.user.password } } : { path: `${base}/confirm`, body: { csrf } };
        const posted = await browser.postForm(form.path, form.body);
        const postedText = await posted.text();
        this.record(kind, withPath(classify({ status: posted.status, headers: Object.fromEntries(posted.headers), json: undefined, text: postedText }), form.path));
        if (posted.status !== 303) return undefined;
        url = new URL(posted.headers.get('location')!, url);
      }
      const code = url.searchParams.get('code');
      if (!code) return undefined;
      const reply = await this.call(target, kind, t.host, '/token', {
        method: 'POST',
        headers: { authorization: basic(t.webClient), 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }).toString(),
      });
      return reply?.status === 200 ? (reply.json.refresh_token as string) : undefined;
    };
    try {
      return await steps();
    } catch (err) {
      const outcome = classifyError(err);
      if (outcome === 'refused') this.#gone.add(target.name);
      this.record(kind, outcome);
      return undefined;
    }
  }
}
