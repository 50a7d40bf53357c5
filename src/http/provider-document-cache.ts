/**
 * A tenant's discovery document and JWKS, kept per tenant *version* (and operator policy
 * version), so a repeated fetch costs a map lookup.
 *
 * Why: relying parties fetch these two documents far more often than anything else. Both
 * are fixed for a given tenant version (issuer, configuration and keys all bump it) and
 * policy version (a policy can change the configuration); the URLs in discovery come from
 * the issuer alone (oidc/issuer-origin.ts), never from the request, so how the tenant was
 * reached does not enter the key. What is kept is either oidc-provider's own answer to an
 * earlier request with the same key, recorded as it was sent, or the same document worked
 * out without a Provider (oidc/provider-documents.ts); only the CORS headers, which
 * oidc-provider derives from each request's Origin (CORS.open), are set again per request
 * the same way. Bounded by bytes, from the tenant memory budget (config/env.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LRUCache } from 'lru-cache';

export type ProviderDocument = 'oidc-discovery' | 'oidc-jwks';

export interface Recorded {
  body: Buffer;
  contentType: string;
}

export class ProviderDocumentCache {
  readonly #documents: LRUCache<string, Recorded>;

  /** `maxBytes`: what the documents may take (a discovery document is ~1.8 KB, a JWKS ~0.5 KB per key). */
  constructor(maxBytes: number) {
    this.#documents = new LRUCache<string, Recorded>({ maxSize: maxBytes, sizeCalculation: (d, key) => d.body.length + key.length + 100 });
  }

  /** The cache key of a request: tenant and policy version, and document. */
  keyFor(tenant: { id: string; version: number; policy: { version: number } }, document: ProviderDocument): string {
    return `${tenant.id}:${tenant.version}:${tenant.policy.version}:${document === 'oidc-jwks' ? 'jwks' : 'discovery'}`;
  }

  /** Keeps a document worked out without the Provider. */
  store(key: string, document: Recorded): void {
    this.#documents.set(key, document);
  }

  get size(): number {
    return this.#documents.size;
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

  /** Records the body of the Provider's answer to this GET, if it is a 200 (and tells `recorded`). */
  record(key: string, res: ServerResponse, recorded?: (document: Recorded) => void): void {
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const documents = this.#documents;
    // Koa sends a JSON body with a single end(string); anything else is simply not recorded.
    res.end = function recordingEnd(this: ServerResponse, ...args: unknown[]) {
      const [chunk] = args;
      const contentType = res.getHeader('content-type');
      if (res.statusCode === 200 && typeof contentType === 'string' && (typeof chunk === 'string' || Buffer.isBuffer(chunk))) {
        const document = { body: Buffer.from(chunk), contentType };
        documents.set(key, document);
        recorded?.(document);
      }
      return end(...args);
    } as ServerResponse['end'];
  }
}
