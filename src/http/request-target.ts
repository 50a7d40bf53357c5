/**
 * An absolute-form request target (`GET http://host.example/path HTTP/1.1`) made ordinary.
 *
 * RFC 9112 §3.2.2: an origin server receiving one uses the target's authority as the host
 * and ignores the Host header. Node hands such a target over as `req.url`, and Koa would
 * take it as the whole `href`; rewriting it to origin-form (and its authority into Host)
 * before anything reads the request means the host checks and tenant resolution look at the
 * one host the request actually names. A target that does not parse, or carries userinfo,
 * leaves an empty Host, which the host check refuses.
 */
import type { IncomingMessage } from 'node:http';

const ABSOLUTE = /^[a-z][a-z0-9+.-]*:\/\//i;

export function normalizeRequestTarget(req: IncomingMessage): void {
  const target = req.url;
  if (!target || target.startsWith('/') || !ABSOLUTE.test(target)) return;
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch {
    url = undefined;
  }
  if (!url || url.username || url.password || !/^https?:$/.test(url.protocol)) {
    req.headers.host = '';
    req.url = '/';
    return;
  }
  req.headers.host = url.host;
  delete req.headers[':authority'];
  req.url = `${url.pathname}${url.search}`;
}
