/**
 * The hot OIDC endpoints (token, discovery, JWKS) without the outer Koa app.
 *
 * Most of an OIDC server's traffic is machines asking for tokens and keys. Through the
 * outer app such a request pays for a Koa context and a dozen middlewares that only ever
 * call `next()` on these paths (static files, ops, /metrics, /api/v1, console, interaction
 * pages...) before it reaches the tenant's Provider, which has a Koa app of its own. Here a
 * raw Node handler does, for exactly these paths, what the outer app would have done for
 * them: it runs the same declared pipeline (pipeline.ts), step for step, then
 *
 *   a plain client_credentials request: its token, without a Provider
 *                                      (oidc/client-credentials-issuer.ts)
 *   GET discovery and JWKS:            the cached document (provider-document-cache.ts),
 *                                      else the same worked out without a Provider
 *                                      (oidc/provider-documents.ts)
 *   the tenant's pooled Provider      for everything else (and the first discovery of a
 *                                      configuration never seen, which teaches the above)
 *
 * with the correlation id of request-context-middleware.ts, and Connection: close once the
 * drain closes connections.
 *
 * It serves the happy path only. Whatever a step refuses (a Host or tenant header refused,
 * no tenant or a suspended one), the development fallback tenant, a limiter error or a
 * Provider build that fails goes to the full Koa stack, which answers it exactly as it
 * would have; nothing has been written to the response (headers are held until the fast
 * path answers), and the request's body, if looked at, has been put back unread
 * (peek-body.ts). Only a Provider build failing after a token request's limits were
 * counted makes the full stack count that request a second time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { ClientCredentialsIssuer } from '../oidc/client-credentials-issuer.ts';
import type { TokenResponse } from '../oidc/client-credentials-issuer.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { ProviderDocuments } from '../oidc/provider-documents.ts';
import type { TenantRuntime } from '../runtime/tenant-runtime.ts';
import { headerStrategyEnabled } from '../tenancy/resolve-tenant.ts';
import { RequestContext, runWithContext } from '../core/request-context.ts';
import { TOKEN_BODY_PEEK_LIMIT } from './rate-limit-token-endpoint.ts';
import { peekBody } from './peek-body.ts';
import { correlationIdFrom } from './request-context-middleware.ts';
import { ProviderDocumentCache } from './provider-document-cache.ts';
import { clientAddressOf } from './client-address.ts';
import { declarePipeline, type PipelineDeps } from './pipeline.ts';
import type { Edge, EdgeAnswer, EdgeStep } from './edge.ts';

/**
 * Headers with which only oidc-provider may answer a token request: DPoP proofs, client
 * attestations, and CORS (a browser's Origin is checked against the client).
 */
const PROVIDER_ONLY_HEADERS = ['dpop', 'oauth-client-attestation', 'oauth-client-attestation-pop', 'origin'];
/** What oidc-provider sends with a token (its no-store and CORS middlewares), so a caller cannot tell who answered. */
const TOKEN_RESPONSE_HEADERS = {
  'Cache-Control': 'no-store',
  Vary: 'Origin',
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers': 'WWW-Authenticate',
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
}

export type RequestHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

type FastRoute = 'oidc-token' | 'oidc-discovery' | 'oidc-jwks';
const PATHS: Record<FastRoute, string> = { 'oidc-token': '/token', 'oidc-discovery': '/.well-known/openid-configuration', 'oidc-jwks': '/jwks' };

/**
 * The requests served here: oidc-provider's own paths, which no outer middleware claims.
 * Anything else (other spellings included) takes the full stack.
 */
function fastRouteOf(method: string | undefined, url: string | undefined): FastRoute | undefined {
  if (!url) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (method === 'POST') return path === PATHS['oidc-token'] ? 'oidc-token' : undefined;
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (path === PATHS['oidc-discovery']) return 'oidc-discovery';
  return path === PATHS['oidc-jwks'] ? 'oidc-jwks' : undefined;
}

/** The request as the pipeline's steps see it (edge.ts); headers are held until the fast path answers. */
class FastEdge implements Edge {
  readonly req: IncomingMessage;
  readonly method: string;
  readonly path: string;
  readonly ip: string;
  readonly context: RequestContext;
  runtime: TenantRuntime | undefined;
  /** Resolved to the development fallback tenant: the full stack answers (and warns). */
  fallback = false;
  readonly #headers: [string, string][] = [];
  readonly #vary: string[] = [];
  #body: Promise<Buffer | undefined> | undefined;

  constructor(req: IncomingMessage, path: string, log: Logger) {
    const incoming = req.headers['x-correlation-id'];
    this.req = req;
    this.method = req.method ?? '';
    this.path = path;
    this.ip = clientAddressOf(req);
    this.context = new RequestContext(correlationIdFrom(typeof incoming === 'string' ? incoming : undefined), log);
  }

  enter(runtime: TenantRuntime, options: { fallback?: boolean } = {}): void {
    this.context.enterTenant(runtime.tenant);
    this.runtime = runtime;
    this.fallback = options.fallback ?? false;
  }

  setHeader(name: string, value: string): void {
    this.#headers.push([name, value]);
  }

  vary(name: string): void {
    this.#vary.push(name);
  }

  peekBody(limit: number): Promise<Buffer | undefined> {
    this.#body ??= peekBody(this.req, limit);
    return this.#body;
  }

  /** Writes what the steps set, as the Koa stack would have. */
  writeHeaders(res: ServerResponse, closing: boolean): void {
    res.setHeader('X-Correlation-ID', this.context.correlationId);
    for (const [name, value] of this.#headers) res.setHeader(name, value);
    if (this.#vary.length) res.setHeader('Vary', this.#vary.join(', '));
    if (closing) res.setHeader('Connection', 'close');
  }
}

/** Runs the steps' `before` in order: an answer, nothing (go on), or 'defer' when one refused or failed. */
async function runBefore(steps: readonly EdgeStep[], edge: FastEdge): Promise<EdgeAnswer | 'defer' | undefined> {
  try {
    for (const step of steps) {
      const answer = await step.before!(edge);
      if (answer) return answer;
    }
  } catch {
    // A refusal, or a dependency failing: the full stack answers it, as it would have.
    return 'defer';
  }
  return edge.fallback ? 'defer' : undefined;
}

/**
 * What the fast path uses, declared here so the edge does not import the composition root:
 * the pipeline's, the direct issuer, the documents worked out without a Provider, and how
 * many bytes their cache may hold (the tenant memory budget's share, config/env.ts).
 */
export type FastPathDeps = PipelineDeps & { clientCredentials: ClientCredentialsIssuer; providerDocuments: ProviderDocuments };

export function withProviderFastPath(deps: FastPathDeps, options: { isShuttingDown: () => boolean }, fullStack: RequestHandler): RequestHandler {
  const { log } = deps;
  const pipeline = declarePipeline(deps);
  const before = [...pipeline.edge, ...pipeline.tenant, ...pipeline.provider].filter((step) => step.before !== undefined);
  const after = pipeline.finish.filter((step) => step.after !== undefined);
  const answer = answerer(deps, options);

  async function serve(req: IncomingMessage, res: ServerResponse, route: FastRoute): Promise<boolean> {
    const startedAt = performance.now();
    const edge = new FastEdge(req, PATHS[route], log);
    const served = await runWithContext(edge.context, async () => {
      const early = await runBefore(before, edge);
      if (early === 'defer') return false;
      if (early) {
        edge.writeHeaders(res, options.isShuttingDown());
        sendJson(res, early.status, early.body, early.headers);
        return true;
      }
      return answer(edge, edge.runtime!, route, res);
    });
    if (served) for (const step of after) step.after!(edge, res.statusCode, startedAt);
    return served;
  }

  return function providerFastPath(req, res) {
    const route = fastRouteOf(req.method, req.url);
    if (!route) return fullStack(req, res);
    return serve(req, res, route).then(
      (served) => (served ? undefined : fullStack(req, res)),
      (err: unknown) => {
        log.error({ err }, 'provider fast path failed');
        if (!res.headersSent) res.writeHead(500);
        if (!res.writableEnded) res.end();
      },
    );
  };
}

/**
 * After the pipeline: a recorded document, a direct client_credentials token, or the
 * tenant's Provider. False, having written nothing, leaves the request to the full stack.
 */
function answerer(deps: FastPathDeps, options: { isShuttingDown: () => boolean }) {
  const { config, metrics, clientCredentials, providerDocuments } = deps;
  const documents = new ProviderDocumentCache(config.multiTenancy.budget.documentBytes);
  const tenantHeader = config.multiTenancy.tenantHeader;
  /** What oidc-provider's CORS middleware sends, after the tenant header (tenant-middleware.ts) when that varies. */
  const tokenResponseHeaders = headerStrategyEnabled(config) ? { ...TOKEN_RESPONSE_HEADERS, Vary: `${tenantHeader}, Origin` } : TOKEN_RESPONSE_HEADERS;

  /**
   * The plain client_credentials request, answered without the Provider; undefined leaves
   * the request, its body unread, to the Provider. A failure here (storage down) leaves it too.
   */
  async function issueDirectly(edge: FastEdge, runtime: TenantRuntime): Promise<TokenResponse | undefined> {
    const { req } = edge;
    const body = await edge.peekBody(TOKEN_BODY_PEEK_LIMIT);
    if (!body || req.url !== PATHS['oidc-token'] || PROVIDER_ONLY_HEADERS.some((name) => req.headers[name] !== undefined)) return undefined;
    try {
      return await clientCredentials.issue(runtime.tenant, { authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
    } catch (err) {
      edge.context.log?.debug({ err }, 'direct client_credentials issue failed; the Provider answers');
      return undefined;
    }
  }

  /** Discovery or JWKS without the Provider, kept for the next request; false when it cannot be (a shape never learnt, storage down). */
  async function deriveDocument(edge: FastEdge, runtime: TenantRuntime, route: FastRoute, key: string, res: ServerResponse, writeHeaders: () => void): Promise<boolean> {
    let derived;
    try {
      derived = await providerDocuments.derive(runtime.tenant, route === 'oidc-jwks' ? 'jwks' : 'discovery');
    } catch (err) {
      edge.context.log?.debug({ err }, 'could not work out the document; the Provider answers');
      return false;
    }
    if (!derived) return false;
    documents.store(key, derived);
    return documents.serve(key, edge.req, res, writeHeaders);
  }

  /** When the Provider answers discovery, what it sent teaches every tenant of the same configuration. */
  const learnFrom = (runtime: TenantRuntime) => (document: { body: Buffer; contentType: string }) =>
    void providerDocuments.learn(runtime.tenant, document.body, document.contentType).catch(() => undefined);

  return async function answer(edge: FastEdge, runtime: TenantRuntime, route: FastRoute, res: ServerResponse): Promise<boolean> {
    const writeHeaders = () => edge.writeHeaders(res, options.isShuttingDown());
    const documentKey = route !== 'oidc-token' && edge.method === 'GET' ? documents.keyFor(runtime.tenant, route) : undefined;
    if (documentKey !== undefined && documents.serve(documentKey, edge.req, res, writeHeaders)) return true;
    if (documentKey !== undefined && (await deriveDocument(edge, runtime, route, documentKey, res, writeHeaders))) return true;
    const issued = route === 'oidc-token' ? await issueDirectly(edge, runtime) : undefined;
    if (issued) {
      writeHeaders();
      sendJson(res, 200, issued, tokenResponseHeaders);
      edge.req.resume();
      metrics.tokenIssued(runtime.tenant.slug, 'client_credentials');
      return true;
    }
    let provider: ProviderRuntime;
    try {
      provider = await runtime.provider();
    } catch {
      // The full stack answers as it would any failed build (a token request's limits, counted above, are counted again there).
      return false;
    }
    writeHeaders();
    if (documentKey !== undefined) documents.record(documentKey, res, route === 'oidc-discovery' ? learnFrom(runtime) : undefined);
    try {
      await provider.handle(edge.req, res);
    } catch (err) {
      // oidc-provider answers its own errors; this is the error middleware's last resort.
      edge.context.log?.error({ err }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'server_error', error_description: 'an unexpected error occurred', correlation_id: edge.context.correlationId });
      else if (!res.writableEnded) res.end();
    }
    return true;
  };
}
