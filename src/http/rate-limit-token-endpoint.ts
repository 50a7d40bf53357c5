/**
 * Limits on the token endpoint, checked before the request reaches oidc-provider: per
 * client IP, and per client for clients that present a secret, in the HTTP Basic header or
 * in the body (client_secret_post). The body is looked at with http/peek-body.ts, which
 * puts it back, so oidc-provider still reads it whole. Clients without a secret
 * (private_key_jwt, whose assertion changes with every request, and public clients) are
 * limited per IP only.
 *
 * The per-client bucket is keyed by the client id *and* the presented secret (both only
 * as an HMAC). At this point nothing has authenticated the caller: keyed by client id
 * alone, anyone who knows a client id (it is not a secret) could spend that client's
 * budget with wrong secrets and lock it out of token issuance. With the secret in the key,
 * a misbehaving client is still held to its limit, while wrong guesses fill buckets of
 * their own and are bounded by the per-IP limit.
 */
import querystring from 'node:querystring';
import type { Tenant } from '../tenancy/tenant.ts';
import type { RateLimiter } from '../security/rate-limiter.ts';
import { rateLimitRules } from '../security/rate-limit-rules.ts';
import type { EdgeStep } from './edge.ts';

/** oidc-provider matches routes case-insensitively and ignores one trailing slash. */
function isTokenRequest(method: string, rawPath: string): boolean {
  if (method !== 'POST') return false;
  const path = rawPath.toLowerCase();
  return path === '/token' || path === '/token/';
}

/** The client id and secret of an HTTP Basic header (RFC 6749 §2.3.1: form-encoded, then base64). */
export function basicCredentials(header: string): { clientId: string; secret: string } | undefined {
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const formDecode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { clientId: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
}

/** The client id and secret of a client_secret_post body (each given once). */
function bodyCredentials(body: Buffer | undefined): { clientId: string; secret: string } | undefined {
  if (!body?.length) return undefined;
  const { client_id: clientId, client_secret: secret } = querystring.parse(body.toString('utf8'));
  return typeof clientId === 'string' && clientId && typeof secret === 'string' && secret ? { clientId, secret } : undefined;
}

/** The largest token request body looked at for credentials; a larger one is limited per IP only. */
export const TOKEN_BODY_PEEK_LIMIT = 4096;

/** A refused token request: the rule that refused it and when to retry. */
export interface TokenLimitRefusal {
  limit: 'token_per_ip' | 'token_per_client';
  retryAfterSeconds: number;
}

/** The token endpoint's limits for one request: per IP, then per client (Basic header, else the body's client_id and client_secret). */
async function checkTokenLimits(limiter: RateLimiter, tenant: Tenant, ip: string, authorization: string, body?: Buffer): Promise<TokenLimitRefusal | undefined> {
  const rules = rateLimitRules(tenant);
  const byIp = await limiter.consume({ tenantId: tenant.id, subject: ip }, rules.token_per_ip);
  if (!byIp.allowed) return { limit: 'token_per_ip', retryAfterSeconds: byIp.retryAfterSeconds };
  const credentials = authorization ? basicCredentials(authorization) : bodyCredentials(body);
  if (!credentials) return undefined;
  const byClient = await limiter.consume({ tenantId: tenant.id, subject: `${credentials.clientId}\u0000${credentials.secret}` }, rules.token_per_client);
  return byClient.allowed ? undefined : { limit: 'token_per_client', retryAfterSeconds: byClient.retryAfterSeconds };
}

/** The 429 of a refused token request. */
function tokenLimitAnswer(refused: TokenLimitRefusal, correlationId: string) {
  return {
    status: 429,
    headers: { 'Retry-After': String(refused.retryAfterSeconds), 'Cache-Control': 'no-store' },
    body: {
      error: 'rate_limited',
      error_description: `too many token requests; retry after ${refused.retryAfterSeconds} seconds`,
      correlation_id: correlationId,
    },
  };
}

/**
 * The token endpoint's limits, a step of the declared pipeline (pipeline.ts). `enabled`
 * false (RATE_LIMITS_ENABLED=false) skips asking the limiter; `onRejected` is told of every
 * refusal (metrics), with the rule that refused it.
 */
export function tokenRateLimitStep(limiter: RateLimiter, enabled: boolean, onRejected: (tenant: Tenant, limit: TokenLimitRefusal['limit']) => void): EdgeStep {
  return {
    name: 'token endpoint rate limits',
    async before(edge) {
      if (!enabled || !edge.runtime || !isTokenRequest(edge.method, edge.path)) return undefined;
      const { tenant } = edge.runtime;
      const authorization = edge.req.headers.authorization ?? '';
      const body = authorization ? undefined : await edge.peekBody(TOKEN_BODY_PEEK_LIMIT);
      const refused = await checkTokenLimits(limiter, tenant, edge.ip, authorization, body);
      if (!refused) return undefined;
      onRejected(tenant, refused.limit);
      return tokenLimitAnswer(refused, edge.context.correlationId);
    },
  };
}
