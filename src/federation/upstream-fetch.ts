/**
 * The fetch Atrium uses towards upstream identity providers. In development, `*.localhost`
 * names resolve to loopback (RFC 6761; browsers do the same, Node's resolver does not), so a
 * tenant can federate to another tenant of a local Atrium. Elsewhere it is plain fetch with
 * the system resolver.
 */
import dns from 'node:dns';
import { Agent, fetch as undiciFetch, type RequestInit } from 'undici';
import type { AtriumConfig } from '../config/env.ts';

export type UpstreamFetch = (url: string, init: Record<string, unknown>) => Promise<Response>;

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

function loopbackForLocalhost(hostname: string, options: dns.LookupOptions, callback: LookupCallback): void {
  if (hostname === 'localhost' || hostname.endsWith('.localhost')) {
    if (options.all) return callback(null, [{ address: '127.0.0.1', family: 4 }]);
    return callback(null, '127.0.0.1', 4);
  }
  dns.lookup(hostname, options, callback as never);
}

export function upstreamFetch(config: Pick<AtriumConfig, 'env'>): UpstreamFetch | undefined {
  if (config.env !== 'development') return undefined;
  const agent = new Agent({ connect: { lookup: loopbackForLocalhost } });
  return (url, init) => undiciFetch(url, { ...(init as RequestInit), dispatcher: agent });
}
