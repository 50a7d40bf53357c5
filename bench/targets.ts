/**
 * The two servers under test, started as child processes, and what the bench needs from
 * each: its tenants (hosts) and client credentials. Atrium runs its real entry point
 * (src/main.ts) with the probe preloaded; the baseline runs bench/bare-server.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool } from 'undici';
import { ServerChild, freePort } from './children.ts';
import { mapLimit, timedRequest, type RequestSpec } from './load.ts';
import { envOf, parseDockerfile } from '../test/support/dockerfile.ts';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DISCOVERY_PATH = '/.well-known/openid-configuration';

/** A tenant as the load generator addresses it. */
export interface Target {
  /** Host header value, e.g. `acme.localhost:4000`. */
  host: string;
  clientId: string;
  clientSecret: string;
}

/** NODE_OPTIONS of the Dockerfile's final stage: the bench runs Atrium as the image does. */
const IMAGE_NODE_OPTIONS = ((): string[] => {
  const stages = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
  const env = Object.assign({}, ...stages.at(-1)!.instructions.filter((i) => i.keyword === 'ENV').map((i) => envOf(i.args))) as Record<string, string>;
  return env.NODE_OPTIONS?.split(/\s+/).filter(Boolean) ?? [];
})();

/** A minimal, reproducible environment: nothing of the caller's Atrium settings leaks in. */
function baseEnv(): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ'];
  return Object.fromEntries(keep.filter((k) => process.env[k] !== undefined).map((k) => [k, process.env[k]]));
}

/** The bearer token of the Atrium children's /metrics (the refresh figure reads the transaction histogram). */
export const METRICS_TOKEN = randomBytes(24).toString('base64url');

export interface AtriumOptions {
  backendEnv: Record<string, string>;
  /** MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE; unset: Atrium's default. */
  poolMaxSize?: number;
  /** SIGNING_KEY_POOL_SIZE (`--key-pool-size=N`); unset: Atrium's default. */
  keyPoolSize?: number;
  /** Adds --expose-gc, for the heap figure. */
  exposeGc?: boolean;
  /** Reuses the master key of an earlier Atrium on the same data (the sealed keys must open). */
  encryptionKey?: string;
  /**
   * Another instance of the same deployment: its PUBLIC_URL (so both serve the same issuers)
   * and bootstrap secret (which every start writes to the database) are reused.
   */
  sameDeploymentAs?: AtriumChild;
}

export interface AtriumChild {
  child: ServerChild;
  /** PUBLIC_URL; tenants are `{slug}.{its host}` (a second instance of a deployment shares it). */
  publicUrl: string;
  encryptionKey: string;
  bootstrapClientId: string;
  bootstrapClientSecret: string;
}

export async function startAtrium(name: string, options: AtriumOptions): Promise<AtriumChild> {
  const port = await freePort();
  const encryptionKey = options.encryptionKey ?? randomBytes(32).toString('base64');
  const bootstrapClientId = 'bench-platform';
  const bootstrapClientSecret = options.sameDeploymentAs?.bootstrapClientSecret ?? randomBytes(32).toString('base64url');
  const publicUrl = options.sameDeploymentAs?.publicUrl ?? `http://localhost:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...baseEnv(),
    ...options.backendEnv,
    PORT: String(port),
    HOST: '127.0.0.1',
    PUBLIC_URL: publicUrl,
    MULTI_TENANCY_ENABLED: 'true',
    ...(options.poolMaxSize === undefined ? {} : { MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: String(options.poolMaxSize) }),
    ...(options.keyPoolSize === undefined ? {} : { SIGNING_KEY_POOL_SIZE: String(options.keyPoolSize) }),
    METRICS_TOKEN,
    ENCRYPTION_KEY: encryptionKey,
    ATRIUM_BOOTSTRAP_CLIENT_ID: bootstrapClientId,
    ATRIUM_BOOTSTRAP_CLIENT_SECRET: bootstrapClientSecret,
    LOG_LEVEL: 'warn',
    // The bare server has no limits, and the figures are about Atrium's work, not its
    // limits: 32 connections on one client would be refused within a second.
    RATE_LIMITS_ENABLED: 'false',
  };
  // The node flags the image runs Atrium with (its NODE_OPTIONS: the heap cap), then
  // BENCH_ATRIUM_NODE_ARGS: extra ones, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile it.
  const extra = [...IMAGE_NODE_OPTIONS, ...(process.env.BENCH_ATRIUM_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? [])];
  const args = [...extra, ...(options.exposeGc ? ['--expose-gc'] : []), '--import', './bench/atrium-preload.ts', 'src/main.ts'];
  const child = new ServerChild(name, port, args, env, ROOT);
  await child.waitReady('/readyz', `localhost:${port}`);
  return { child, publicUrl, encryptionKey, bootstrapClientId, bootstrapClientSecret };
}

export interface BareChild {
  child: ServerChild;
  target: Target;
  /** The authorization_code + refresh_token client (bench/bare-server.ts mints its refresh tokens). */
  webTarget: Target;
  /** The same client on the twin whose storage is PostgreSQL (F5/bare-pg); only with `databaseUrl`. */
  durableWebTarget?: Target;
  /** The email F6/bare signs in with (bench/bare-sign-in-pages.ts); the password is the argon2id bound's. */
  signInEmail: string;
}

/** `databaseUrl`: a PostgreSQL database the bare server's durable twin may make its table in. */
export async function startBare(name: string, options: { exposeGc?: boolean; databaseUrl?: string } = {}): Promise<BareChild> {
  const port = await freePort();
  const clientId = 'bench-client';
  const clientSecret = randomBytes(32).toString('base64url');
  const webClientSecret = randomBytes(32).toString('base64url');
  const signInEmail = 'bench-user@bench.test';
  const env = {
    ...baseEnv(),
    PORT: String(port),
    BENCH_CLIENT_ID: clientId,
    BENCH_CLIENT_SECRET: clientSecret,
    BENCH_WEB_CLIENT_SECRET: webClientSecret,
    BENCH_SIGN_IN_EMAIL: signInEmail,
    ...(options.databaseUrl ? { BENCH_BARE_DATABASE_URL: options.databaseUrl } : {}),
  };
  const child = new ServerChild(name, port, [...(options.exposeGc ? ['--expose-gc'] : []), 'bench/bare-server.ts'], env, ROOT);
  await child.waitReady(DISCOVERY_PATH, `localhost:${port}`);
  return {
    child,
    target: { host: `localhost:${port}`, clientId, clientSecret },
    webTarget: { host: `localhost:${port}`, clientId: 'bench-web', clientSecret: webClientSecret },
    durableWebTarget: options.databaseUrl ? { host: `durable.localhost:${port}`, clientId: 'bench-web', clientSecret: webClientSecret } : undefined,
    signInEmail,
  };
}

/** The Host header of a tenant: `{slug}.{PUBLIC_URL host}`, e.g. `acme.localhost:4000`. */
export function tenantHost(atrium: AtriumChild, slug: string): string {
  return `${slug}.${new URL(atrium.publicUrl).host}`;
}

export function basicAuth(clientId: string, clientSecret: string): string {
  // RFC 6749 §2.3.1: form-encode, then base64.
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;
}

export function tokenRequest(target: Target): RequestSpec {
  return {
    method: 'POST',
    path: '/token',
    headers: { host: target.host, authorization: basicAuth(target.clientId, target.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  };
}

export function discoveryRequest(host: string): RequestSpec {
  return { method: 'GET', path: DISCOVERY_PATH, headers: { host } };
}

/** The management API, authenticated with the bootstrap client's platform token. */
export class AtriumAdmin {
  readonly #pool: Pool;
  readonly #atrium: AtriumChild;
  #token: string | undefined;

  constructor(pool: Pool, atrium: AtriumChild) {
    this.#pool = pool;
    this.#atrium = atrium;
  }

  get #platformHost(): string {
    return new URL(this.#atrium.publicUrl).host;
  }

  async #call(method: 'POST' | 'GET', apiPath: string, body?: unknown): Promise<Record<string, unknown>> {
    this.#token ??= await this.#platformToken();
    const res = await timedRequest(this.#pool, {
      method,
      path: `/api/v1${apiPath}`,
      headers: { host: this.#platformHost, authorization: `Bearer ${this.#token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300) throw new Error(`${method} /api/v1${apiPath}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return JSON.parse(res.body) as Record<string, unknown>;
  }

  /** Asks for the token up front, so the first timed call does not include it. */
  async ready(): Promise<void> {
    this.#token ??= await this.#platformToken();
  }

  async #platformToken(): Promise<string> {
    const res = await timedRequest(this.#pool, {
      ...tokenRequest({ host: this.#platformHost, clientId: this.#atrium.bootstrapClientId, clientSecret: this.#atrium.bootstrapClientSecret }),
      body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'atrium:tenants:read atrium:tenants:write atrium:cross-tenant:write' }).toString(),
    });
    const token = (JSON.parse(res.body) as { access_token?: string }).access_token;
    if (!token) throw new Error(`no platform token: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    return token;
  }

  /** Creates a tenant (which generates its RS256 + ES256 keys). */
  async createTenant(slug: string): Promise<void> {
    await this.#call('POST', '/tenants', { slug, name: `Bench ${slug}` });
  }

  /** Registers a confidential client_credentials client; returns its target. */
  async createClient(slug: string): Promise<Target> {
    const created = await this.#call('POST', `/tenants/${slug}/clients`, {
      client_name: 'bench machine client',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: 'client_secret_basic',
    });
    return { host: tenantHost(this.#atrium, slug), clientId: String(created.client_id), clientSecret: String(created.client_secret) };
  }

  /** Registers a confidential authorization_code + refresh_token client (redirect to test/support's REDIRECT_URI). */
  async createWebClient(slug: string, redirectUri: string): Promise<Target> {
    const created = await this.#call('POST', `/tenants/${slug}/clients`, {
      client_name: 'bench web client',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    return { host: tenantHost(this.#atrium, slug), clientId: String(created.client_id), clientSecret: String(created.client_secret) };
  }

  /** Creates a user with a password (hashed by Atrium with its argon2id parameters). */
  async createUser(slug: string, email: string, password: string): Promise<void> {
    await this.#call('POST', `/tenants/${slug}/users`, { email, password, name: 'Bench user', email_verified: true });
  }

  /** GET on the management API; returns the JSON and how long the request took. */
  async timedGet(apiPath: string): Promise<{ ms: number; body: Record<string, unknown> }> {
    const sent = performance.now();
    const body = await this.#call('GET', apiPath);
    return { ms: performance.now() - sent, body };
  }

  /** Rotates a tenant's signing keys; returns the kids of the new current keys. */
  async rotateKeys(slug: string): Promise<string[]> {
    const { keys } = (await this.#call('POST', `/tenants/${slug}/keys/rotate`)) as { keys: { kid: string; status: string }[] };
    const current = keys.filter((k) => k.status === 'current').map((k) => k.kid);
    if (!current.length) throw new Error(`rotating ${slug}'s keys left no current key`);
    return current;
  }

  /**
   * Creates tenants with clients (`withClient`) or without. Several at a time: key
   * generation runs on libuv's thread pool, so this overlaps well.
   */
  async provision(slugs: readonly string[], withClient: boolean): Promise<Target[]> {
    return mapLimit(slugs, 6, async (slug) => {
      await this.createTenant(slug);
      if (withClient) return this.createClient(slug);
      return { host: tenantHost(this.#atrium, slug), clientId: '', clientSecret: '' };
    });
  }
}
