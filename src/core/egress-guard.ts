/**
 * The one door for outbound connections a tenant can aim (upstream identity providers, client
 * jwks_uri / sector_identifier_uri, SMTP servers, custom-domain challenges). It refuses
 * addresses inside the deployment's networks: loopback, RFC 1918, link-local (cloud metadata
 * at 169.254.169.254), CGNAT, unique-local and link-local IPv6, IPv4-mapped IPv6, multicast,
 * unspecified and the other special-use ranges; only global unicast passes (the
 * classification is ipaddr.js's `range()`, not CIDR math of our own). The operator allows
 * named hosts or CIDRs with EGRESS_ALLOW; development also allows loopback.
 *
 * The check is made where it cannot be dodged: on every address DNS returns (the `lookup`
 * the sockets use, so a name that resolves to an internal address never gets a SYN), on IP
 * literals before connecting, and on the address the socket actually connected to. Redirects
 * are followed here, hop by hop, each through the same check. Every call has a timeout and a
 * response-size cap. Failures reach the caller as one of two errors: `EgressRefusedError`
 * (the destination is not allowed: a 4xx `destination_not_allowed`) or `EgressFailedError`
 * (anything else, always the same words, so a caller cannot tell "refused" from "bad
 * certificate" from "timed out" and use Atrium as a port scanner); details go to the log.
 */
import net from 'node:net';
import ipaddr from 'ipaddr.js';
import type { Logger } from 'pino';
import { Agent, buildConnector, fetch as undiciFetch, Headers, Response, type RequestInit } from 'undici';
import type { AtriumConfig } from '../config/env.ts';
import type { DnsResolver } from './dns-resolver.ts';

export const DESTINATION_NOT_ALLOWED = 'destination_not_allowed';

export class EgressRefusedError extends Error {
  readonly code = DESTINATION_NOT_ALLOWED;
  readonly host: string;
  constructor(host: string) {
    super(`the destination ${host.slice(0, 255)} is not allowed for outbound connections`);
    this.name = 'EgressRefusedError';
    this.host = host;
  }
}

/** Deliberately without details: they are logged, not shown. */
export class EgressFailedError extends Error {
  readonly code = 'destination_unreachable';
  constructor() {
    super('the destination could not be reached or did not answer usefully');
    this.name = 'EgressFailedError';
  }
}

/** The refusal somewhere in an error's cause chain (libraries wrap what fetch throws). */
export function findEgressRefusal(err: unknown, depth = 0): EgressRefusedError | undefined {
  if (err instanceof EgressRefusedError) return err;
  if (!err || typeof err !== 'object' || depth > 8) return undefined;
  const nested = [(err as { cause?: unknown }).cause, ...((err as { errors?: unknown[] }).errors ?? [])];
  for (const inner of nested) {
    const found = findEgressRefusal(inner, depth + 1);
    if (found) return found;
  }
  return undefined;
}

export interface GuardedInit extends Omit<RequestInit, 'dispatcher'> {
  /** The whole call, redirects included (default 10 s). */
  timeoutMs?: number;
  /** Largest body read (default 1 MiB); more is a failure. */
  maxBytes?: number;
  /**
   * Refuse loopback even in development: for URLs in a client's metadata (jwks_uri,
   * sector_identifier_uri), which no local workflow needs on loopback and oidc-provider
   * itself always refused.
   */
  strict?: boolean;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | { address: string; family: number }[], family?: number) => void;

const CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_BYTES = 1024 * 1024;
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export class EgressGuard {
  readonly #resolver: DnsResolver;
  readonly #log: Logger;
  readonly #hosts: ReadonlySet<string>;
  readonly #cidrs: readonly [ipaddr.IPv4 | ipaddr.IPv6, number][];
  readonly #allowLoopback: boolean;
  readonly #agent: Agent;
  readonly #strictAgent: Agent;

  constructor(config: Pick<AtriumConfig, 'egress' | 'smtp'> & Partial<Pick<AtriumConfig, 'providerOrigins'>>, resolver: DnsResolver, log: Logger) {
    this.#resolver = resolver;
    this.#log = log;
    this.#allowLoopback = config.egress.allowLoopback;
    const hosts = new Set<string>();
    const cidrs: [ipaddr.IPv4 | ipaddr.IPv6, number][] = [];
    for (const entry of config.egress.allow) {
      if (entry.includes('/')) cidrs.push(ipaddr.parseCIDR(entry));
      else if (ipaddr.isValid(entry)) cidrs.push([ipaddr.parse(entry), ipaddr.parse(entry).kind() === 'ipv4' ? 32 : 128]);
      else hosts.add(entry);
    }
    // The platform's own mail server is the operator's choice, not a tenant's: allowed as named.
    if (config.smtp.url) hosts.add(new URL(config.smtp.url).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase());
    // So are the operator's stand-ins for the social sign-in and SMS providers' hosts.
    for (const origin of [...Object.values(config.providerOrigins?.social ?? {}), ...Object.values(config.providerOrigins?.sms ?? {})]) hosts.add(new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase());
    this.#hosts = hosts;
    this.#cidrs = cidrs;
    this.#agent = this.#guardedAgent(this.#allowLoopback);
    this.#strictAgent = this.#guardedAgent(false);
  }

  /** An undici Agent whose every connection is checked: before the SYN and once connected. */
  #guardedAgent(allowLoopback: boolean): Agent {
    const lookup = this.#lookupFor(allowLoopback);
    const connect = buildConnector({ timeout: CONNECT_TIMEOUT_MS, lookup });
    return new Agent({
      connect: (opts, callback) => {
        const host = opts.hostname;
        // IP literals never reach `lookup`: check them before the SYN.
        if (net.isIP(host.replace(/^\[(.*)\]$/, '$1')) && !this.isAllowed(host, host, allowLoopback)) return callback(new EgressRefusedError(host), null);
        connect(opts, (err, socket) => {
          if (err || !socket) return callback(err ?? new Error('no socket'), null);
          if (!this.isAllowed(socket.remoteAddress ?? '', host, allowLoopback)) {
            socket.destroy();
            return callback(new EgressRefusedError(host), null);
          }
          callback(null, socket);
        });
      },
    });
  }

  /** Whether `address` may be connected to, reached under the name `hostname`. */
  isAllowed(address: string, hostname: string, allowLoopback = this.#allowLoopback): boolean {
    if (this.#hosts.has(hostname.replace(/\.$/, '').toLowerCase())) return true;
    let ip: ipaddr.IPv4 | ipaddr.IPv6;
    try {
      ip = ipaddr.parse(address.replace(/^\[(.*)\]$/, '$1'));
    } catch {
      return false;
    }
    if (this.#cidrs.some(([range, bits]) => range.kind() === ip.kind() && ip.match(range, bits))) return true;
    const range = ip.range();
    return range === 'unicast' || (range === 'loopback' && allowLoopback);
  }

  /** Resolves a name, refusing it when any of its addresses is not allowed. */
  async resolve(hostname: string, allowLoopback = this.#allowLoopback): Promise<{ address: string; family: 4 | 6 }[]> {
    const addresses = await this.#resolver.addresses(hostname);
    if (addresses.some((a) => !this.isAllowed(a.address, hostname, allowLoopback))) throw new EgressRefusedError(hostname);
    return addresses;
  }

  /** A node-style `lookup` for sockets (undici's connector, net.connect). */
  #lookupFor(allowLoopback: boolean) {
    return (hostname: string, options: { all?: boolean }, callback: LookupCallback): void => {
      this.resolve(hostname, allowLoopback).then(
        (addresses) => (options.all ? callback(null, addresses) : callback(null, addresses[0]!.address, addresses[0]!.family)),
        (err: NodeJS.ErrnoException) => callback(err, ''),
      );
    };
  }

  /** fetch through the guard: redirects followed here and checked hop by hop, a timeout and a size cap. */
  async fetch(input: string | URL, init: GuardedInit = {}): Promise<Response> {
    const { timeoutMs = DEFAULT_TIMEOUT_MS, maxBytes = DEFAULT_MAX_BYTES, strict = false, ...rest } = init;
    const dispatcher = strict ? this.#strictAgent : this.#agent;
    const signal = rest.signal ? AbortSignal.any([rest.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs);
    // A caller that handles redirects itself (openid-client asks for 'manual') gets them as they are.
    const follow = (rest.redirect ?? 'follow') === 'follow';
    const headers = new Headers(rest.headers);
    let url = new URL(String(input));
    let method = rest.method ?? 'GET';
    let body = rest.body;
    for (let hop = 0; ; hop++) {
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new EgressRefusedError(url.protocol);
      let res: Response;
      try {
        res = await undiciFetch(url, { ...rest, method, body, headers, signal, redirect: 'manual', dispatcher });
      } catch (err) {
        throw this.#failure(url.host, err);
      }
      const location = res.headers.get('location');
      if (!follow || !REDIRECTS.has(res.status) || !location) return capped(res, maxBytes, () => this.#failure(url.host, new Error('response too large')));
      await res.body?.cancel();
      if (hop >= MAX_REDIRECTS) throw this.#failure(url.host, new Error('too many redirects'));
      const next = new URL(location, url);
      // Credentials are for the origin they were given to.
      if (next.origin !== url.origin) for (const h of ['authorization', 'cookie']) headers.delete(h);
      if (res.status === 303 || (res.status <= 302 && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
    }
  }

  /**
   * A TCP connection through the guard, for protocols other than HTTP (SMTP). The socket is
   * handed over connected; the caller does TLS on it.
   */
  async connect(host: string, port: number): Promise<net.Socket> {
    try {
      if (net.isIP(host) && !this.isAllowed(host, host)) throw new EgressRefusedError(host);
      return await new Promise<net.Socket>((resolve, reject) => {
        const socket = net.connect({ host, port, lookup: this.#lookupFor(this.#allowLoopback), timeout: CONNECT_TIMEOUT_MS });
        socket.once('timeout', () => socket.destroy(new Error('connect timeout')));
        socket.once('error', reject);
        socket.once('connect', () => {
          socket.setTimeout(0);
          socket.off('error', reject);
          if (this.isAllowed(socket.remoteAddress ?? '', host)) return resolve(socket);
          socket.destroy();
          reject(new EgressRefusedError(host));
        });
      });
    } catch (err) {
      throw this.#failure(`${host}:${port}`, err);
    }
  }

  /** nodemailer's `getSocket` option: its SMTP connections open through `connect`. */
  readonly smtpSocket = (options: { host?: string; port?: number }, callback: (err: Error | null, socket?: { connection: net.Socket }) => void): void => {
    this.connect(options.host ?? 'localhost', options.port ?? 25).then(
      (connection) => callback(null, { connection }),
      (err: Error) => callback(err),
    );
  };

  #failure(destination: string, err: unknown): Error {
    const refusal = findEgressRefusal(err);
    if (refusal) {
      this.#log.warn({ destination, egress: DESTINATION_NOT_ALLOWED }, 'outbound connection refused: the destination is not allowed');
      return refusal;
    }
    if (err instanceof EgressFailedError) return err;
    this.#log.warn({ destination, err }, 'outbound connection failed');
    return new EgressFailedError();
  }

  async close(): Promise<void> {
    await Promise.all([this.#agent.close(), this.#strictAgent.close()]);
  }
}

/** The response with its body cut off at `maxBytes` (a larger body errors when read). */
function capped(res: Response, maxBytes: number, tooLarge: () => Error): Response {
  if (Number(res.headers.get('content-length') ?? 0) > maxBytes) {
    void res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return res;
  let seen = 0;
  const limited = res.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        seen += chunk.byteLength;
        if (seen > maxBytes) controller.error(tooLarge());
        else controller.enqueue(chunk);
      },
    }),
  );
  return new Response(limited as never, { status: res.status, statusText: res.statusText, headers: res.headers });
}
