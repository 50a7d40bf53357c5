/**
 * oidc-provider's discovery document and JWKS, as it answered them, kept per tenant
 * *version* and request origin, so they are served without a Provider.
 *
 * Why: relying parties fetch these two documents far more often than anything else, and
 * with more active tenants than the Provider pool holds, most fetches would otherwise
 * build a Provider only to print the same JSON again. Both are fixed for a given tenant
 * version (issuer, configuration and keys all bump it) and, for discovery, the origin
 * the endpoints are written with (oidc-provider builds them from the request's protocol
 * and host). Nothing is computed here: the body and content type are oidc-provider's own
 * answer to an earlier request with the same key, recorded as it was sent; only its CORS
 * headers, which oidc-provider derives from each request's Origin (CORS.open), are set
 * again per request the same way.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';

export type ProviderDocument = 'oidc-discovery' | 'oidc-jwks';

interface Recorded {
  body: Buffer;
  contentType: string;
}

export class ProviderDocumentCache {
  readonly #documents = new LRUCache<string, Recorded>({
    // Bounded by bytes: a discovery document is ~1.5 KB, a JWKS ~1 KB per key. The key counts
    // too: it holds the request's Host, which the tenant header lets a caller choose freely.
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (d, key) => d.body.length + key.length + 100,
  });
  /** The cache key of a request: tenant version, document, and for discovery the origin oidc-provider would write (Koa's ctx.origin). */
  keyFor(tenant: { id: string; version: number }, document: ProviderDocument, req: IncomingMessage, host: string): string {
    if (document === 'oidc-jwks') return `${tenant.id}:${tenant.version}:jwks`;
    // Present only when a trusted proxy sent it: the edge removed it otherwise (client-address.ts).
    const forwarded = req.headers['x-forwarded-proto'];
    const protocol = (req.socket as { encrypted?: boolean }).encrypted
      ? 'https'
      : typeof forwarded === 'string' && forwarded
        ? forwarded.split(',', 1)[0]!.trim().toLowerCase()
        : 'http';
    return `${tenant.id}:${tenant.version}:discovery:${protocol}://${host}`;
  }

  /** Answers a GET from the cache (`beforeWrite` sets the outer headers); false, having done nothing, when nothing is recorded for this key. */
  serve(key: string, req: IncomingMessage, res: ServerResponse, beforeWrite: () => void): boolean {
    const recorded = this.#documents.get(key);
    if (!recorded) return false;
    beforeWrite();
    // As oidc-provider's CORS.open middleware does for every non-OPTIONS request.
    res.setHeader('Vary', 'Origin');
    res.setHeader('Access-Control-Allow-Origin', req.headers.origin || '*');
    res.writeHead(200, { 'Content-Type': recorded.contentType, 'Content-Length': recorded.body.length });
    res.end(recorded.body);
    return true;
  }

  /** Records the body of the Provider's answer to this GET, if it is a 200. */
  record(key: string, res: ServerResponse): void {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const documents = this.#documents;
    // Koa sends a JSON body with a single end(string); anything else is simply not recorded.
    res.end = function recordingEnd(this: ServerResponse, ...args: unknown[]) {
      const [chunk] = args;
      const contentType = res.getHeader('content-type');
      if (res.statusCode === 200 && typeof contentType === 'string' && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        documents.set(key, { body: Buffer.from(chunk), contentType });
      }
      return end(...args);
    } as ServerResponse['end'];
  }
}
