/**
 * A logout token from a tenant's upstream (OpenID Connect Back-Channel Logout 1.0, section
 * 2.6), checked with jose: the signature against the upstream's JWKS (fetched through the
 * egress guard, cached by jose), `iss` the upstream's issuer, `aud` our client id, `iat`
 * recent, a `jti`, the back-channel logout event, a `sid` or a `sub`, no `nonce`, and
 * `typ` logout+jwt when the header names one. The replay check (`jti` seen before) is the
 * caller's, against federation_logout_tokens.
 */
import { LRUCache } from 'lru-cache';
import { createRemoteJWKSet, customFetch, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';

export const BACKCHANNEL_LOGOUT_EVENT = 'http://schemas.openid.net/event/backchannel-logout';
/** How old (by `iat`) a logout token may be, and how far ahead of our clock. */
export const LOGOUT_TOKEN_MAX_AGE_SECONDS = 300;
const CLOCK_TOLERANCE_SECONDS = 30;

export class LogoutTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LogoutTokenError';
  }
}

export interface LogoutTokenClaims {
  jti: string;
  sid?: string;
  sub?: string;
  /** Until when the token could be accepted: how long its jti is remembered. */
  acceptableUntil: Date;
}

type Fetch = (url: string, init: Record<string, unknown>) => Promise<Response>;

/** One JWKS per upstream key set URL: jose caches keys and refetches on an unknown `kid`. */
export class LogoutTokenVerifier {
  readonly #fetch: Fetch;
  readonly #sets = new LRUCache<string, ReturnType<typeof createRemoteJWKSet>>({ max: 1_000, ttl: 10 * 60_000 });
  constructor(fetch: Fetch) {
    this.#fetch = fetch;
  }

  async verify(token: string, expected: { issuer: string; audience: string; jwksUri: string }): Promise<LogoutTokenClaims> {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new LogoutTokenError('logout_token is not a JWS');
    }
    if (header.typ !== undefined && String(header.typ).toLowerCase().replace(/^application\//, '') !== 'logout+jwt') throw new LogoutTokenError('logout_token typ must be logout+jwt');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.#keys(expected.jwksUri), {
        issuer: expected.issuer,
        audience: expected.audience,
        algorithms: ['RS256', 'PS256', 'ES256', 'ES384', 'ES512', 'EdDSA', 'RS384', 'RS512', 'PS384', 'PS512'],
        requiredClaims: ['iat', 'jti'],
        maxTokenAge: LOGOUT_TOKEN_MAX_AGE_SECONDS,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }));
    } catch (err) {
      throw new LogoutTokenError(`logout_token did not verify: ${err instanceof Error ? err.message.slice(0, 200) : 'invalid'}`);
    }
    return checkClaims(payload);
  }

  #keys(jwksUri: string) {
    let set = this.#sets.get(jwksUri);
    if (!set) {
      set = createRemoteJWKSet(new URL(jwksUri), { [customFetch]: (url: string, init: Record<string, unknown>) => this.#fetch(url, init), timeoutDuration: 10_000 });
      this.#sets.set(jwksUri, set);
    }
    return set;
  }
}

/** Section 2.4's claims, beyond what jwtVerify checked. */
function checkClaims(payload: JWTPayload): LogoutTokenClaims {
  const events = payload.events as Record<string, unknown> | undefined;
  if (!events || typeof events !== 'object' || Array.isArray(events) || typeof events[BACKCHANNEL_LOGOUT_EVENT] !== 'object' || events[BACKCHANNEL_LOGOUT_EVENT] === null) {
    throw new LogoutTokenError(`logout_token events must contain ${BACKCHANNEL_LOGOUT_EVENT}`);
  }
  if ('nonce' in payload) throw new LogoutTokenError('logout_token must not contain a nonce');
  const sid = typeof payload.sid === 'string' && payload.sid ? payload.sid : undefined;
  const sub = typeof payload.sub === 'string' && payload.sub ? payload.sub : undefined;
  if (!sid && !sub) throw new LogoutTokenError('logout_token must contain sid or sub');
  if (typeof payload.jti !== 'string' || !payload.jti || payload.jti.length > 256) throw new LogoutTokenError('logout_token jti is invalid');
  const until = Math.max(payload.exp ?? 0, payload.iat! + LOGOUT_TOKEN_MAX_AGE_SECONDS) + CLOCK_TOLERANCE_SECONDS;
  return { jti: payload.jti, sid, sub, acceptableUntil: new Date(until * 1000) };
}
