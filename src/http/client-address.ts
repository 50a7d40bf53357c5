/**
 * Who the client is: the one rule, applied once per request at the edge (server.ts),
 * before the fast path and both Koa apps (ours and oidc-provider's) look at the request.
 *
 * The address is read from the right end of [X-Forwarded-For..., peer]: each address
 * that TRUST_PROXY names as a proxy (at most `hops` of them, and each within the listed
 * CIDRs when there is a list) is stepped over, and the first one that is not is the
 * client. Values further left were written by the client and are never looked at. A peer
 * that is not a trusted proxy is the client itself, whatever headers it sent.
 *
 * The forwarding headers are then rewritten to what is believed, so every reader agrees:
 * X-Forwarded-For becomes that one address (Koa runs with `proxy: true`, so `ctx.ip` is
 * it, in rate limits, lockout, audit and sessions alike); X-Forwarded-Proto is kept only
 * from a trusted proxy; X-Forwarded-Host is always dropped, because tenants are resolved
 * from Host and every URL from the issuer (proxies pass Host through, as
 * config/proxy/nginx.conf does).
 */
import type { IncomingMessage } from 'node:http';
import proxyaddr from 'proxy-addr';
import type { ProxyTrust } from '../config/env.ts';

type Trust = (address: string, hop: number) => boolean;

/** proxy-addr's trust function for TRUST_PROXY: hop 0 is the peer, 1 the rightmost X-Forwarded-For value, ... */
export function compileProxyTrust(trust: ProxyTrust): Trust {
  if (trust.hops <= 0) return () => false;
  const listed = trust.proxies ? proxyaddr.compile([...trust.proxies]) : () => true;
  return (address, hop) => hop < trust.hops && listed(address, hop);
}

/** The client address of a request under `trust` (proxy-addr walks the chain from the right). */
export function clientAddress(req: IncomingMessage, trust: Trust): string {
  const address = proxyaddr(req, trust) ?? '';
  // An IPv4 peer on a dual-stack socket reads as ::ffff:a.b.c.d; limits and audit key on the plain form.
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Rewrites a request's forwarding headers to what `trust` believes (see the module comment). */
export function forwardingNormaliser(trust: ProxyTrust): (req: IncomingMessage) => void {
  const trusted = compileProxyTrust(trust);
  return function normaliseForwarding(req) {
    const peerIsProxy = trusted(req.socket.remoteAddress ?? '', 0);
    req.headers['x-forwarded-for'] = clientAddress(req, trusted);
    delete req.headers['x-forwarded-host'];
    if (!peerIsProxy) delete req.headers['x-forwarded-proto'];
  };
}

/** The client address of a request the normaliser has seen; the same value as Koa's `ctx.ip`. */
export function clientAddressOf(req: IncomingMessage): string {
  const forwarded = req.headers['x-forwarded-for'];
  return (typeof forwarded === 'string' && forwarded) || req.socket.remoteAddress || '';
}
