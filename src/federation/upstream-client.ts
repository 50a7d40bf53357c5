/**
 * openid-client configurations for a tenant's upstream connections. Discovery is cached
 * briefly per tenant and connection (never shared between tenants, even for one issuer: the
 * client id and secret differ), and dropped whenever the connection changes.
 */
import { LRUCache } from 'lru-cache';
import * as oidc from 'openid-client';
import type { AtriumConfig } from '../config/env.ts';
import type { EgressGuard } from '../core/egress-guard.ts';
import { discoveryUrl, type ConnectionSettings } from './connection-schema.ts';
import type { StoredConnection } from './connection-store.ts';

/** Every upstream call goes through the egress guard (src/core/egress-guard.ts). */
type UpstreamFetch = (url: string, init: Record<string, unknown>) => Promise<Response>;

const DISCOVERY_TTL_MS = 5 * 60_000;
const UPSTREAM_TIMEOUT_SECONDS = 10;

export class UpstreamClients {
  readonly #allowHttp: boolean;
  readonly #fetch: UpstreamFetch;
  readonly #cache = new LRUCache<string, Promise<oidc.Configuration>>({ max: 5_000, ttl: DISCOVERY_TTL_MS });

  constructor(config: Pick<AtriumConfig, 'env'>, egress: EgressGuard) {
    this.#allowHttp = config.env === 'development';
    this.#fetch = (url, init) => egress.fetch(url, { ...init, timeoutMs: UPSTREAM_TIMEOUT_SECONDS * 1000 });
  }

  /** The fetch used for upstream calls (also for the JWKS check of the connection test). */
  fetch(url: string, init: Record<string, unknown> = {}): Promise<Response> {
    return this.#fetch(url, init);
  }

  /**
   * The client configuration of a connection; `secret` is read only when a configuration is
   * built. A failed discovery is not cached, so the next sign-in tries again.
   */
  configuration(tenantId: string, connection: StoredConnection, secret: () => Promise<string | undefined>): Promise<oidc.Configuration> {
    const key = `${tenantId}\u0000${connection.name}\u0000${connection.updatedAt.getTime()}`;
    let pending = this.#cache.get(key);
    if (!pending) {
      pending = this.build(connection.settings, secret);
      this.#cache.set(key, pending);
      pending.catch(() => this.#cache.delete(key));
    }
    return pending;
  }

  /** Forgets a connection's configurations (after a change or deletion). */
  forget(tenantId: string, name: string): void {
    const prefix = `${tenantId}\u0000${name}\u0000`;
    for (const key of this.#cache.keys()) if (key.startsWith(prefix)) this.#cache.delete(key);
  }

  /** Builds a configuration without caching it (the connection test always starts afresh). */
  async build(settings: ConnectionSettings, secret: () => Promise<string | undefined>): Promise<oidc.Configuration> {
    const clientSecret = settings.token_endpoint_auth_method === 'none' ? undefined : await secret();
    const auth =
      settings.token_endpoint_auth_method === 'none' ? oidc.None() : settings.token_endpoint_auth_method === 'client_secret_post' ? oidc.ClientSecretPost(clientSecret) : oidc.ClientSecretBasic(clientSecret);
    const metadata: Partial<oidc.ClientMetadata> = clientSecret ? { client_secret: clientSecret } : {};
    let configuration: oidc.Configuration;
    if (settings.endpoints) {
      // The ID token names the issuer its users know (public_issuer), whatever host Atrium reaches.
      configuration = new oidc.Configuration({ issuer: settings.public_issuer ?? settings.issuer!, ...settings.endpoints }, settings.client_id, metadata, auth);
    } else if (settings.public_issuer) {
      configuration = new oidc.Configuration(await this.#discoverBehind(settings, settings.public_issuer), settings.client_id, metadata, auth);
    } else {
      const url = settings.issuer && !settings.discovery_endpoint ? settings.issuer : discoveryUrl(settings)!;
      configuration = await oidc.discovery(new URL(url), settings.client_id, metadata, auth, {
        execute: this.#allowHttp ? [oidc.allowInsecureRequests] : [],
        timeout: UPSTREAM_TIMEOUT_SECONDS,
        [oidc.customFetch]: this.#fetch as never,
      });
    }
    if (settings.introspection_endpoint) {
      // The connection's own introspection endpoint wins over the discovery document's; the
      // client authenticates there as at the token endpoint (RFC 7662 section 2.1).
      const discovered = Object.fromEntries(Object.entries(configuration.serverMetadata()).filter(([, v]) => typeof v !== 'function')) as oidc.ServerMetadata;
      configuration = new oidc.Configuration({ ...discovered, introspection_endpoint: settings.introspection_endpoint }, settings.client_id, metadata, auth);
    }
    configuration[oidc.customFetch] = this.#fetch as never;
    if (this.#allowHttp) oidc.allowInsecureRequests(configuration);
    configuration.timeout = UPSTREAM_TIMEOUT_SECONDS;
    return configuration;
  }

  /**
   * Discovery of an upstream Atrium reaches at one origin while its users and its ID tokens
   * know another (`public_issuer`: a proxy, Keycloak's frontend URL, a OneGate portal).
   * openid-client's discovery insists that the document's issuer is the URL it was read
   * from, so the document is read here, through the egress guard, and must name
   * `public_issuer`. Endpoints are then moved by origin: the authorization and end-session
   * endpoints (the browser's) onto the public origin, the others (Atrium's own calls) onto
   * the origin Atrium reached. Paths are kept as the document gives them.
   */
  async #discoverBehind(settings: ConnectionSettings, publicIssuer: string): Promise<oidc.ServerMetadata> {
    const url = discoveryUrl(settings)!;
    const res = await this.#fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`the discovery document at ${url} answered ${res.status}`);
    const doc = (await res.json()) as Record<string, unknown>;
    if (doc.issuer !== publicIssuer) throw new Error(`the discovery document names issuer ${JSON.stringify(String(doc.issuer).slice(0, 200))}, not public_issuer ${publicIssuer}`);
    const reached = new URL(url).origin;
    const shown = new URL(publicIssuer).origin;
    const move = (value: unknown, from: string, to: string) => (typeof value === 'string' && URL.parse(value)?.origin === from ? to + value.slice(from.length) : value);
    const out: Record<string, unknown> = { ...doc };
    for (const key of BROWSER_ENDPOINTS) out[key] = move(doc[key], reached, shown);
    for (const key of BACK_CHANNEL_ENDPOINTS) out[key] = move(doc[key], shown, reached);
    for (const key of Object.keys(out)) if (out[key] === undefined) delete out[key];
    return out as unknown as oidc.ServerMetadata;
  }
}

const BROWSER_ENDPOINTS = ['authorization_endpoint', 'end_session_endpoint'] as const;
const BACK_CHANNEL_ENDPOINTS = ['token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'introspection_endpoint', 'revocation_endpoint', 'pushed_authorization_request_endpoint'] as const;
