/**
 * The baseline: plain oidc-provider v9 with an in-memory adapter (bare-memory-adapter.ts), no Koa app,
 * no tenancy, no database, configured like one Atrium tenant (same features, same client
 * authentication, same ES256 JWT access tokens for client_credentials). Run by the bench
 * as its own process, like Atrium, so neither shares an event loop with the load generator.
 *
 * Hosts (the port is ignored):
 *   localhost          the single provider every throughput figure uses
 *   <label>.localhost  a new Provider built on the first request for that host and kept
 *                      alive, to measure a cold first request and the heap per Provider
 *   durable.localhost  when BENCH_BARE_DATABASE_URL is set: the main provider's twin with its
 *                      storage on PostgreSQL (bare-pg-adapter.ts), for F5/bare-pg
 *
 * Bench-only routes on `localhost` and `durable.localhost` (never part of a Provider):
 *   POST /bench/refresh-token  mints a refresh token for the web client straight into the
 *                      host's adapter (a Grant and a RefreshToken, as a code exchange
 *                      with offline_access would leave them), so the refresh figure needs
 *                      no sign-in pages on this side
 *   POST /bench/argon2 verifies one password against an argon2id hash made with Atrium's
 *                      own parameters (src/accounts/password.ts): the sign-in figure's
 *                      bound, an HTTP request that does nothing but the hash
 *   /interaction/...   the fewest sign-in pages (bare-sign-in-pages.ts) for the reference
 *                      sign-in F6/bare, as BENCH_SIGN_IN_EMAIL with the bound's password
 *
 * Env: PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_WEB_CLIENT_SECRET, BENCH_SIGN_IN_EMAIL; optional
 * BENCH_BARE_DATABASE_URL.
 */
import http from 'node:http';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { installProbe } from './probe.ts';
import { bareMemoryAdapter } from './bare-memory-adapter.ts';
import { hashPassword, verifyPassword } from '../src/accounts/password.ts';
import { bareSignInPages } from './bare-sign-in-pages.ts';
import { barePgAdapter } from './bare-pg-adapter.ts';

const port = Number(process.env.PORT);
const clientId = process.env.BENCH_CLIENT_ID;
const clientSecret = process.env.BENCH_CLIENT_SECRET;
const webClientSecret = process.env.BENCH_WEB_CLIENT_SECRET;
const signInEmail = process.env.BENCH_SIGN_IN_EMAIL;
if (!port || !clientId || !clientSecret || !webClientSecret || !signInEmail) throw new Error('bare-server needs PORT, BENCH_CLIENT_ID, BENCH_CLIENT_SECRET, BENCH_WEB_CLIENT_SECRET and BENCH_SIGN_IN_EMAIL');
/** The client of the refresh figure, like the web client Atrium's side signs in with. */
const WEB_CLIENT_ID = 'bench-web';
const ACCOUNT_ID = 'bench-user';
const REFRESH_SCOPE = 'openid email offline_access';

/** The audience of client_credentials JWTs, standing in for Atrium's management API. */
const API_AUDIENCE = `http://localhost:${port}/api`;

// Like an Atrium tenant: one RS256 and one ES256 signing key. Generated once; every
// Provider gets its own copy of the JWKs and imports them itself, as Atrium's Providers do.
async function signingJwk(alg: 'RS256' | 'ES256', privateKey: KeyObject): Promise<JWK> {
  const jwk = privateKey.export({ format: 'jwk' }) as JWK;
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub } = jwk;
  return { ...jwk, kid: await calculateJwkThumbprint(pub), alg, use: 'sig' };
}
const KEYS: JWK[] = [
  await signingJwk('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
  await signingJwk('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
];
const COOKIE_KEYS = [randomBytes(32).toString('base64url')];
/** One in-memory store for every Provider of the process, as oidc-provider's default adapter has. */
const ADAPTER = bareMemoryAdapter();

function configuration(jwtAccessTokens: boolean, adapter: Configuration['adapter'] = ADAPTER): Configuration {
  return {
    adapter,
    clients: [
      {
        client_id: clientId!,
        client_secret: clientSecret!,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: WEB_CLIENT_ID,
        client_secret: webClientSecret!,
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        redirect_uris: ['https://rp.example.test/callback'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
    // Every account exists, with the claims the refresh figure's scope asks for.
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub, email: `${sub}@bench.test`, email_verified: true }) }),
    jwks: { keys: structuredClone(KEYS) },
    cookies: { keys: COOKIE_KEYS },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'updated_at'] },
    scopes: ['openid', 'offline_access', 'email', 'profile'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      resourceIndicators: jwtAccessTokens
        ? {
            enabled: true,
            // As Atrium: a client_credentials request without `resource` gets an ES256 JWT.
            defaultResource: (ctx: KoaContextWithOIDC) => (ctx.oidc.params?.grant_type === 'client_credentials' ? API_AUDIENCE : undefined),
            useGrantedResource: () => true,
            getResourceServerInfo: () => ({ scope: '', audience: API_AUDIENCE, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } }),
          }
        : { enabled: false },
    },
    rotateRefreshToken: true,
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    ttl: { AccessToken: 3600, ClientCredentials: 3600, IdToken: 3600, RefreshToken: 14 * 86_400, AuthorizationCode: 60, Interaction: 3600, Session: 14 * 86_400, Grant: 14 * 86_400 },
    clientDefaults: { grant_types: ['authorization_code'], id_token_signed_response_alg: 'RS256', response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' },
    responseTypes: ['code', 'none'],
  };
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void>;

function build(issuer: string, jwtAccessTokens: boolean): Handler {
  return new Provider(issuer, configuration(jwtAccessTokens)).callback();
}

const mainProvider = new Provider(`http://localhost:${port}`, configuration(true));
const main: Handler = mainProvider.callback();
const durableStore = process.env.BENCH_BARE_DATABASE_URL ? await barePgAdapter(process.env.BENCH_BARE_DATABASE_URL) : undefined;
const durableProvider = durableStore && new Provider(`http://durable.localhost:${port}`, configuration(true, durableStore.Adapter));
const durable: Handler | undefined = durableProvider?.callback();

/** A Grant and a rotating RefreshToken of the web client, stored by `provider`'s adapter. */
async function mintRefreshToken(provider: Provider): Promise<string> {
  const client = await provider.Client.find(WEB_CLIENT_ID);
  if (!client) throw new Error(`no client ${WEB_CLIENT_ID}`);
  const grant = new provider.Grant({ accountId: ACCOUNT_ID, clientId: WEB_CLIENT_ID });
  grant.addOIDCScope(REFRESH_SCOPE);
  const grantId = await grant.save();
  const token = new provider.RefreshToken({ accountId: ACCOUNT_ID, client, grantId, scope: REFRESH_SCOPE, gty: 'authorization_code', authTime: Math.floor(Date.now() / 1000) });
  return token.save();
}

const ARGON2_PASSWORD = 'bench-correct-horse-battery';
const argon2Hash = await hashPassword(ARGON2_PASSWORD);
/** The reference sign-in (F6/bare) signs in to the refresh figure's account, with the bound's password. */
const pages = bareSignInPages(mainProvider, { email: signInEmail, accountId: ACCOUNT_ID, verify: (password) => verifyPassword(argon2Hash, password) });

/** The bench-only routes; true when one answered. */
async function benchRoute(req: http.IncomingMessage, res: http.ServerResponse, provider: Provider): Promise<boolean> {
  if (req.method !== 'POST') return false;
  if (req.url === '/bench/refresh-token') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ refresh_token: await mintRefreshToken(provider) }));
    return true;
  }
  if (req.url === '/bench/argon2') {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    const ok = await verifyPassword(argon2Hash, body || ARGON2_PASSWORD);
    res.writeHead(ok ? 200 : 401).end();
    return true;
  }
  return false;
}
/** Providers built on demand, one per host, kept alive (that is what the heap figure measures). */
const perHost = new Map<string, Handler>();

const server = http.createServer((req, res) => {
  const host = (req.headers.host ?? '').toLowerCase();
  const hostname = host.replace(/:\d+$/, '');
  let handler: Handler | undefined;
  const benchProvider = hostname === 'localhost' ? mainProvider : hostname === 'durable.localhost' ? durableProvider : undefined;
  if (benchProvider && req.url?.startsWith('/bench/')) {
    benchRoute(req, res, benchProvider).then(
      (answered) => answered || res.writeHead(404).end(),
      () => res.headersSent || res.writeHead(500).end(),
    );
    return;
  }
  if (hostname === 'localhost') handler = req.url?.startsWith('/interaction/') ? pages : main;
  else if (hostname === 'durable.localhost') handler = durable;
  else if (/^[a-z0-9-]+\.localhost$/.test(hostname)) {
    handler = perHost.get(hostname);
    if (!handler) {
      handler = build(`http://${hostname}:${port}`, true);
      perHost.set(hostname, handler);
    }
  }
  if (!handler) {
    res.writeHead(404).end();
    return;
  }
  handler(req, res).catch(() => {
    if (!res.headersSent) res.writeHead(500);
    res.end();
  });
});
// As Atrium's listener (src/server.ts), so idle keep-alive connections are treated alike.
server.keepAliveTimeout = 65_000;
server.headersTimeout = 66_000;
server.listen(port, '127.0.0.1');

installProbe(() => ({ providers: perHost.size }));
async function stop(): Promise<never> {
  await new Promise((resolve) => server.close(resolve));
  await durableStore?.end();
  process.exit(0);
}
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void stop());
