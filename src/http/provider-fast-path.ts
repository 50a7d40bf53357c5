/**
 * The hot OIDC endpoints (token, discovery, JWKS) without the outer Koa app.
 *
 * Most of an OIDC server's traffic is machines asking for tokens and keys. Through the
 * outer app such a request pays for a Koa context and a dozen middlewares that only ever
 * call `next()` on these paths (static files, ops, /metrics, /api/v1, console, interaction
 * pages...) before it reaches the tenant's Provider, which has a Koa app of its own. Here a
 * raw Node handler does, for exactly these paths, what the outer app would have done for
 * them, in the same order and with the same shared code:
 *
 *   correlation id + request context  (request-context-middleware.ts)
 *   security headers, Connection: close once the drain closes connections
 *   the Host check and tenant resolution (host-guard.ts, resolve-tenant.ts, the same registry)
 *   the token endpoint's rate limits  (rate-limit-token-endpoint.ts)
 *   a plain client_credentials request: its token, without a Provider
 *                                      (oidc/client-credentials-issuer.ts)
 *   the tenant's pooled Provider      (or, for GET discovery and JWKS, its recorded
 *                                      answer: provider-document-cache.ts)
 *   request metrics and access line   (metrics-middleware.ts, request-context-middleware.ts)
 *
 * It serves the happy path only. Whatever it cannot serve plainly (no tenant or a
 * suspended one, the development fallback tenant, a limiter error, a Provider build that
 * fails, a Host or tenant header refused) goes to the full Koa stack, which answers it exactly as before;
 * nothing has been written to the response, and the request's body, if looked at, has
 * been put back unread (peek-body.ts). Only a Provider build failing after a token
 * request's limits were counted makes the full stack count that request a second time.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { AtriumConfig } from '../config/env.ts';
import type { Metrics } from '../core/metrics.ts';
import type { ClientCredentialsIssuer } from '../oidc/client-credentials-issuer.ts';
import type { ProviderPool } from '../runtime/provider-pool.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import type { TenantRegistry } from '../tenancy/tenant-registry.ts';
import { headerStrategyEnabled, resolveTenant } from '../tenancy/resolve-tenant.ts';
import { requestHostOf } from '../tenancy/request-host.ts';
import { checkRequestHost } from './host-guard.ts';
import { tenantHeaderValue } from './tenant-middleware.ts';
import { RequestContext, runWithContext } from '../core/request-context.ts';
import { checkTokenLimits, TOKEN_BODY_PEEK_LIMIT, tokenLimitResponse } from './rate-limit-token-endpoint.ts';
import type { ProviderRuntime } from '../oidc/provider-factory.ts';
import type { TokenResponse } from '../oidc/client-credentials-issuer.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { peekBody } from './peek-body.ts';
import { routeClassOf } from './metrics-middleware.ts';
import { correlationIdFrom, logAccess } from './request-context-middleware.ts';
import { securityHeaderList } from './security-headers.ts';
import { ProviderDocumentCache } from './provider-document-cache.ts';
import { clientAddressOf } from './client-address.ts';

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

/**
 * The requests served here: oidc-provider's own paths, which no outer middleware claims.
 * Anything else (other spellings included) takes the full stack.
 */
function fastRouteOf(method: string | undefined, url: string | undefined): FastRoute | undefined {
  if (!url) return undefined;
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  if (method === 'POST') return path === '/token' ? 'oidc-token' : undefined;
  if (method !== 'GET' && method !== 'HEAD') return undefined;
  if (path === '/.well-known/openid-configuration') return 'oidc-discovery';
  return path === '/jwks' ? 'oidc-jwks' : undefined;
}

/** What the fast path uses, declared here so the edge does not import the composition root. */
export interface FastPathDeps {
  config: AtriumConfig;
  registry: TenantRegistry;
  pool: ProviderPool;
  rateLimiter: RateLimiter;
  metrics: Metrics;
  log: Logger;
  clientCredentials: ClientCredentialsIssuer;
}

export function withProviderFastPath(services: FastPathDeps, options: { isShuttingDown: () => boolean }, fullStack: RequestHandler): RequestHandler {
  const { config, registry, pool, rateLimiter, metrics, log, clientCredentials } = services;
  const headers = securityHeaderList({ hsts: config.publicUrl.protocol === 'https:' });
  const tenantHeader = config.multiTenancy.tenantHeader;
  const documents = new ProviderDocumentCache();

  const varyOnHeader = headerStrategyEnabled(config);
  /** What oidc-provider's CORS middleware sends, after the tenant header (tenant-middleware.ts) when that varies. */
  const tokenResponseHeaders = varyOnHeader ? { ...TOKEN_RESPONSE_HEADERS, Vary: `${tenantHeader}, Origin` } : TOKEN_RESPONSE_HEADERS;

  /** Serves the request, or returns false having touched nothing (the full stack takes it). */
  async function serve(req: IncomingMessage, res: ServerResponse, route: FastRoute, path: string): Promise<boolean> {
    const started = performance.now();
    const rawHost = requestHostOf(req);
    let resolution;
    try {
      // A refused host or tenant is answered by the full stack (host-guard.ts, tenant-middleware.ts).
      if (!(await checkRequestHost(rawHost, config, registry)).ok) return false;
      resolution = await resolveTenant({ host: rawHost, header: tenantHeaderValue(req.headers[tenantHeader]) }, config, registry);
    } catch {
      return false;
    }
    if (resolution.kind !== 'tenant' || resolution.via === 'fallback' || resolution.tenant.status !== 'active') return false;
    const { tenant } = resolution;
    const incoming = req.headers['x-correlation-id'];
    const context = new RequestContext(correlationIdFrom(typeof incoming === 'string' ? incoming : undefined), log);
    context.enterTenant(tenant);

    const setOuterHeaders = () => {
      res.setHeader('X-Correlation-ID', context.correlationId);
      for (const [name, value] of headers) res.setHeader(name, value);
      if (varyOnHeader) res.setHeader('Vary', tenantHeader);
      if (options.isShuttingDown()) res.setHeader('Connection', 'close');
    };
    const finish = () => {
      metrics.recordRequest(context.tenantSlug, routeClassOf(path), res.statusCode, (performance.now() - started) / 1000);
      logAccess(log, context, req.method ?? '', path, res.statusCode, started);
    };
    const documentKey = route !== 'oidc-token' && req.method === 'GET' ? documents.keyFor(tenant, route) : undefined;
    if (documentKey !== undefined && documents.serve(documentKey, req, res, setOuterHeaders)) {
      finish();
      return true;
    }

    return runWithContext(context, async () => {
      // A token request's body, looked at once (and put back) for the limits and the direct issuer.
      const body = route === 'oidc-token' ? await peekBody(req, TOKEN_BODY_PEEK_LIMIT) : undefined;
      let refusal;
      // RATE_LIMITS_ENABLED=false makes the limiter allow everything; skip asking it.
      if (route === 'oidc-token' && config.rateLimitsEnabled) {
        try {
          refusal = await checkTokenLimits(rateLimiter, tenant, clientAddressOf(req), req.headers.authorization ?? '', body);
        } catch {
          return false;
        }
      }
      if (refusal) {
        setOuterHeaders();
        metrics.rateLimitRejections.inc({ tenant: tenant.slug, limit: refusal.limit });
        const response = tokenLimitResponse(refusal, context.correlationId);
        sendJson(res, 429, response.body, response.headers);
        finish();
        return true;
      }
      if (route === 'oidc-token' && req.url === '/token' && body) {
        const issued = await issueDirectly(tenant, req, body, context);
        if (issued) {
          setOuterHeaders();
          sendJson(res, 200, issued, tokenResponseHeaders);
          req.resume();
          metrics.tokenIssued(tenant.slug, 'client_credentials');
          finish();
          return true;
        }
      }
      let runtime: ProviderRuntime;
      try {
        runtime = await pool.get(tenant);
      } catch {
        // The full stack answers as it would any failed build. A token request's limits were
        // counted above and are counted again there: only on this failure path.
        return false;
      }
      setOuterHeaders();
      if (documentKey !== undefined) documents.record(documentKey, res);
      try {
        await runtime.handle(req, res);
      } catch (err) {
        // oidc-provider answers its own errors; this is the error middleware's last resort.
        context.log?.error({ err }, 'request failed');
        if (!res.headersSent) {
          sendJson(res, 500, { error: 'server_error', error_description: 'an unexpected error occurred', correlation_id: context.correlationId });
        } else if (!res.writableEnded) res.end();
      }
      finish();
      return true;
    });
  }

  /**
   * The plain client_credentials request, answered without the Provider
   * (oidc/client-credentials-issuer.ts); undefined leaves the request, its body unread, to
   * the Provider. A failure here (storage down) leaves it too: the Provider answers it.
   */
  async function issueDirectly(tenant: Tenant, req: IncomingMessage, body: Buffer, context: RequestContext): Promise<TokenResponse | undefined> {
    if (PROVIDER_ONLY_HEADERS.some((name) => req.headers[name] !== undefined)) return undefined;
    try {
      return await clientCredentials.issue(tenant, { authorization: req.headers.authorization, contentType: req.headers['content-type'], body });
    } catch (err) {
      context.log?.debug({ err }, 'direct client_credentials issue failed; the Provider answers');
      return undefined;
    }
  }

  return function providerFastPath(req, res) {
    const route = fastRouteOf(req.method, req.url);
    if (!route) return fullStack(req, res);
    const path = route === 'oidc-token' ? '/token' : route === 'oidc-discovery' ? '/.well-known/openid-configuration' : '/jwks';
    return serve(req, res, route, path).then(
      (served) => (served ? undefined : fullStack(req, res)),
      (err: unknown) => {
        log.error({ err }, 'provider fast path failed');
        if (!res.headersSent) res.writeHead(500);
        if (!res.writableEnded) res.end();
      },
    );
  };
}
