/**
 * The plain client_credentials token request, answered without the tenant's Provider.
 *
 * Why: machine tokens are most of an identity provider's token traffic, and their tenants
 * are many. With more active tenants than the Provider pool holds, nearly every such
 * request would build a Provider (~0.7 ms of oidc-provider's CPU, several times the cost of
 * the token itself) only to sign one JWT. Issuing that JWT takes the tenant's cached keys
 * and client record, which outlive the pool.
 *
 * What keeps this honest: it only ever says *yes*, and only to the request oidc-provider
 * would say yes to, with the token oidc-provider would issue (same claims, header, key,
 * lifetime and response). Everything else returns `undefined` and goes to the Provider
 * unread (http/peek-body.ts): every error (an unknown client, a wrong secret, a scope the
 * client may not have, a malformed header), every other parameter, header or
 * authentication method, DPoP, mTLS-bound or expiring secrets. So oidc-provider remains
 * the one place that decides what is wrong and how to say it.
 * test/client-credentials-issuer.test.ts asks both for tokens and compares the answers.
 */
import { enabledGrants } from './enabled-grants.ts';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import querystring from 'node:querystring';
import type { AtriumConfig } from '../config/env.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { issuerFor } from '../tenancy/tenant.ts';
import { apiResourceServerFor } from './api-resource.ts';
import type { ClientMetadata } from './client-store.ts';
import { OIDC_SCOPES } from './provider-factory.ts';
import type { TenantMaterials } from './tenant-materials.ts';

export interface TokenRequest {
  authorization: string | undefined;
  contentType: string | undefined;
  body: Buffer;
}

/** RFC 6749 §5.1, members in oidc-provider's order. */
export interface TokenResponse {
  access_token: string;
  expires_in: number;
  scope?: string;
  token_type: 'Bearer';
}

/** The body parameters of the plain request; any other (or a repeated one) goes to the Provider. */
const PLAIN_PARAMETERS = new Set(['grant_type', 'scope', 'client_id', 'client_secret', 'resource']);
const FORM = /^application\/x-www-form-urlencoded[ \t]*(?:;[ \t]*charset="?utf-8"?[ \t]*)?$/i;
/** RFC 6749 §3.3 scope-token list, as oidc-provider checks it. */
const SCOPE_SYNTAX = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/;
/** Padded base64, as a Basic credential is sent; anything looser is oidc-provider's to judge. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** RFC 6749 VSCHAR and space: what a client id or secret may hold. */
const CLIENT_CREDENTIAL = /^[\x20-\x7E]*$/;

export class ClientCredentialsIssuer {
  readonly #config: AtriumConfig;
  readonly #materials: TenantMaterials;

  constructor(config: AtriumConfig, materials: TenantMaterials) {
    this.#config = config;
    this.#materials = materials;
  }

  /**
   * The token response, or undefined: not a plain, valid client_credentials request, for
   * the tenant's Provider to answer. Runs in the tenant's request context (its client
   * record is read under RLS).
   */
  async issue(tenant: Tenant, request: TokenRequest): Promise<TokenResponse | undefined> {
    if (!request.contentType || !FORM.test(request.contentType)) return undefined;
    const params = plainParameters(request.body);
    if (!params || params.grant_type !== 'client_credentials') return undefined;
    // Switched off for the tenant: its Provider answers unsupported_grant_type (enabled-grants.ts).
    if (!enabledGrants(tenant).has('client_credentials')) return undefined;

    const credentials = clientCredentialsOf(request.authorization, params);
    if (!credentials) return undefined;
    const client = await this.#materials.client(tenant, credentials.clientId);
    if (!client || !mayUseClientCredentials(client) || !secretMatches(client.client_secret, credentials.secret)) return undefined;

    const api = apiResourceServerFor(tenant, this.#config);
    if (params.resource !== undefined && params.resource !== api.audience) return undefined;
    const scope = grantedScope(params.scope, client, api.scopes);
    if (scope === false) return undefined;

    const { keys } = await this.#materials.signingKeys(tenant);
    // oidc-provider's choice: the first key of the algorithm that may sign (retired and
    // next keys are published with key_ops ['verify']).
    const key = keys.find((k) => k.alg === api.alg && (k.key_ops === undefined || k.key_ops.includes('sign')));
    if (!key) return undefined;

    const iat = Math.floor(Date.now() / 1000);
    const header = { alg: api.alg, typ: 'at+jwt', kid: key.kid };
    const payload = {
      jti: randomBytes(32).toString('base64url'),
      sub: credentials.clientId,
      iat,
      exp: iat + api.accessTokenTTL,
      scope,
      client_id: credentials.clientId,
      iss: issuerFor(tenant, this.#config),
      aud: api.audience,
    };
    const signingInput = `${base64url(header)}.${base64url(payload)}`;
    const signature = await key.sign(Buffer.from(signingInput));
    return { access_token: `${signingInput}.${signature.toString('base64url')}`, expires_in: api.accessTokenTTL, scope, token_type: 'Bearer' };
  }
}

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

/** Each allowed parameter at most once and non-empty, nothing else; undefined otherwise. */
function plainParameters(body: Buffer): Record<string, string> | undefined {
  const parsed = querystring.parse(body.toString('utf8'));
  const params: Record<string, string> = {};
  for (const [name, value] of Object.entries(parsed)) {
    if (!PLAIN_PARAMETERS.has(name) || typeof value !== 'string' || value === '') return undefined;
    params[name] = value;
  }
  return params;
}

interface PresentedCredentials {
  clientId: string;
  secret: string;
}

/** Exactly one way of authenticating, well formed; undefined for anything oidc-provider would refuse or must judge. */
function clientCredentialsOf(authorization: string | undefined, params: Record<string, string>): PresentedCredentials | undefined {
  if (authorization === undefined) {
    if (params.client_id === undefined || params.client_secret === undefined) return undefined;
    return { clientId: params.client_id, secret: params.client_secret };
  }
  if (params.client_secret !== undefined) return undefined;
  const [scheme, encoded, ...rest] = authorization.split(' ');
  if (rest.length || scheme?.toLowerCase() !== 'basic' || !encoded || !BASE64.test(encoded)) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  // RFC 6749 §2.3.1: both halves are form-urlencoded.
  const clientId = formDecode(decoded.slice(0, colon));
  const secret = formDecode(decoded.slice(colon + 1));
  if (!clientId || secret === undefined) return undefined;
  if (params.client_id !== undefined && params.client_id !== clientId) return undefined;
  return { clientId, secret };
}

function formDecode(value: string): string | undefined {
  try {
    const decoded = decodeURIComponent(value.replace(/\+/g, '%20'));
    return CLIENT_CREDENTIAL.test(decoded) ? decoded : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The client's registered metadata (stored as its Provider validated and completed it,
 * client-service.ts) allows this grant with a client secret, and asks for nothing this
 * issuer does not do: bound tokens, an expiring secret. Like oidc-provider, a client
 * registered for either secret method may present its secret either way (header or body).
 */
function mayUseClientCredentials(client: ClientMetadata): boolean {
  const method = client.token_endpoint_auth_method ?? 'client_secret_basic';
  const grantTypes = Array.isArray(client.grant_types) ? client.grant_types : ['authorization_code'];
  return (
    (method === 'client_secret_basic' || method === 'client_secret_post') &&
    grantTypes.includes('client_credentials') &&
    !client.client_secret_expires_at &&
    !client.tls_client_certificate_bound_access_tokens &&
    !client.dpop_bound_access_tokens
  );
}

/** Compared as digests: constant time whatever the lengths. */
function secretMatches(expected: unknown, presented: string): boolean {
  if (typeof expected !== 'string' || !expected) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(expected), digest(presented));
}

/**
 * What oidc-provider grants for the API: the requested scopes the client registered and the
 * API knows (asking for none gives none). `false` when it would refuse the request: a
 * malformed list, or a scope it knows that the client did not register (invalid_scope).
 */
function grantedScope(requested: string | undefined, client: ClientMetadata, apiScopes: readonly string[]): string | undefined | false {
  if (requested === undefined) return undefined;
  if (!SCOPE_SYNTAX.test(requested)) return false;
  const asked = new Set(requested.split(' '));
  const registered = new Set(typeof client.scope === 'string' ? client.scope.split(' ') : []);
  // oidc-provider checks only a client that registered scopes (`if (client.scope)`).
  if (typeof client.scope === 'string' && client.scope) {
    const known = new Set([...OIDC_SCOPES, ...apiScopes]);
    for (const scope of asked) if (known.has(scope) && !registered.has(scope)) return false;
  }
  const granted = [...asked].filter((scope) => apiScopes.includes(scope) && registered.has(scope));
  return granted.length ? granted.join(' ') : undefined;
}
