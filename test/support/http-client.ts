/**
 * HTTP for tests: an undici Agent whose resolver sends every *.localhost name to 127.0.0.1
 * (Node does not resolve them), and a tiny cookie-keeping "browser" for form flows.
 */
import { Agent, request, fetch as undiciFetch, type Dispatcher, type RequestInit, type Response } from 'undici';
import dns from 'node:dns';
import net from 'node:net';

export const loopbackAgent = new Agent({
  connect: {
    lookup(hostname, options, callback) {
      if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
        if ((options as { all?: boolean }).all) return (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address: '127.0.0.1', family: 4 }]);
        return (callback as (e: null, a: string, f: number) => void)(null, '127.0.0.1', 4);
      }
      return dns.lookup(hostname, options, callback as never);
    },
  },
});

export function httpFetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
  return undiciFetch(url, { ...init, dispatcher: loopbackAgent });
}

/**
 * An Agent that sends every request, whatever its URL's host and port, to one process on
 * 127.0.0.1:`port`: a client "behind a load balancer" pinned to one instance, with the
 * URL's host as the Host header.
 */
export function pinnedAgent(port: number): Agent {
  return new Agent({
    connect(_options, callback) {
      const socket = net.connect(port, '127.0.0.1');
      const failed = (err: Error) => callback(err, null);
      socket.once('error', failed);
      socket.once('connect', () => {
        socket.off('error', failed);
        callback(null, socket);
      });
    },
  });
}

/** openid-client's customFetch over a given dispatcher. */
export function customFetchVia(dispatcher: Dispatcher) {
  return (url: string, options: Record<string, unknown>) => undiciFetch(url, { ...(options as RequestInit), dispatcher }) as unknown as Promise<globalThis.Response>;
}

/** What openid-client's customFetch expects. */
export const customFetchImpl = (url: string, options: Record<string, unknown>) =>
  undiciFetch(url, { ...(options as RequestInit), dispatcher: loopbackAgent }) as unknown as Promise<globalThis.Response>;

type BrowserInit = Omit<RequestInit, 'headers'> & { headers?: Record<string, string> };

/** A cookie jar per browser, keyed by host; enough for the provider's cookies. */
export class TestBrowser {
  readonly jar = new Map<string, Map<string, string>>();
  readonly #dispatcher: Dispatcher;

  /** `dispatcher`: where requests go (pinnedAgent for one instance of several); loopback by default. */
  constructor(dispatcher: Dispatcher = loopbackAgent) {
    this.#dispatcher = dispatcher;
  }

  cookieHeader(url: URL): string {
    const cookies = this.jar.get(url.host);
    return cookies ? [...cookies].map(([k, v]) => `${k}=${v}`).join('; ') : '';
  }

  store(url: URL, res: Response): void {
    this.storeCookies(url, res.headers.getSetCookie());
  }

  /** Keeps what `Set-Cookie` lines set (and drops what they expire) for `url`'s host. */
  storeCookies(url: URL, setCookie: string[]): void {
    for (const line of setCookie) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq).trim();
      const value = pair!.slice(eq + 1).trim();
      const cookies = this.jar.get(url.host) ?? new Map<string, string>();
      if (/expires=Thu, 01 Jan 1970/i.test(line) || value === '') cookies.delete(name);
      else cookies.set(name, value);
      this.jar.set(url.host, cookies);
    }
  }

  /** The headers this browser sends to `url`: `extra`, its cookies for that host, and HTML as what it accepts. */
  headersFor(url: URL, extra: Record<string, string> = {}): Record<string, string> {
    const headers: Record<string, string> = { accept: 'text/html', ...extra };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    return headers;
  }

  /** One request, no redirect following; cookies sent and stored. */
  async request(url: string | URL, init: BrowserInit = {}): Promise<Response> {
    const u = new URL(url);
    const res = await undiciFetch(u, { ...init, headers: this.headersFor(u, init.headers), redirect: 'manual', dispatcher: this.#dispatcher });
    this.store(u, res);
    return res;
  }

  /** Follows redirects until one leaves `stopAt` origin's control or a page is returned. */
  async follow(url: string | URL, stopWhen: (u: URL) => boolean = () => false, init: BrowserInit = {}): Promise<{ url: URL; res: Response }> {
    let current = new URL(url);
    let res = await this.request(current, init);
    for (let i = 0; i < 20 && res.status >= 300 && res.status < 400; i++) {
      current = new URL(res.headers.get('location')!, current);
      if (stopWhen(current)) return { url: current, res };
      await res.body?.cancel();
      res = await this.request(current);
    }
    return { url: current, res };
  }

  async postForm(url: string | URL, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
    return this.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
    });
  }
}

/** Reads a hidden input's value from a rendered form. */
export function hiddenInput(html: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(html);
  if (!m) throw new Error(`no hidden input ${name} in page`);
  return m[1]!;
}

/**
 * A GET to the Atrium on `port` with exactly these headers (Host included, which global
 * fetch would drop); the body as text and, when it parses, as JSON; `header` joins repeats.
 */
export async function getOnPort(port: number, path: string, headers: Record<string, string>) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers, dispatcher: loopbackAgent });
  const text = await res.body.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const header = (name: string) => {
    const v = res.headers[name];
    return Array.isArray(v) ? v.join(', ') : (v ?? '');
  };
  return { status: res.statusCode, json, text, headers: res.headers, header };
}
