/**
 * oidc-provider's discovery document and JWKS, as it answered them, kept per tenant
 * *version*, so they are served without a Provider.
 *
 * Why: relying parties fetch these two documents far more often than anything else, and
 * with more active tenants than the Provider pool holds, most fetches would otherwise
 * build a Provider only to print the same JSON again. Both are fixed for a given tenant
 * version (issuer, configuration and keys all bump it); the URLs in discovery come from the
 * issuer alone (oidc/issuer-origin.ts), never from the request, so how the tenant was
 * reached does not enter the key. Nothing is computed here: the body and content type are
 * oidc-provider's own answer to an earlier request with the same key, recorded as it was
 * sent; only its CORS headers, which oidc-provider derives from each request's Origin
 * (CORS.open), are set again per request the same way.
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
    // Bounded by bytes: a discovery document is ~1.5 KB, a JWKS ~1 KB per key.
    maxSize: 16 * 1024 * 1024,
    sizeCalculation: (d, key) => d.body.length + key.length + 100,
  });
  /** The cache key of a request: tenant version and document. */
  keyFor(tenant: { id: string; version: number }, document: ProviderDocument): string {
    return `${tenant.id}:${tenant.version}:${document === 'oidc-jwks' ? 'jwks' : 'discovery'}`;
  }

  /** Answers a GET from the cache (`beforeWrite` sets the outer headers); false, having done nothing, when nothing is recorded for this key. */
  serve(key: string, req: IncomingMessage, res: ServerResponse, beforeWrite: () => void): boolean {
    const recorded = this.#documents.get(key);
    if (!recorded) return false;
    beforeWrite();
    // As oidc-provider's CORS.open middleware does for every non-OPTIONS request: Origin
    // added to what the outer headers already vary on (the tenant header).
    const vary = res.getHeader('vary');
    res.setHeader('Vary', typeof vary === 'string' && vary ? `${vary}, Origin` : 'Origin');
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
