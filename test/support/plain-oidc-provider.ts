/**
 * A plain oidc-provider on loopback, standing for a customer's own identity provider in
 * federation tests. Its login page is a one-field form (the account's email); signing in
 * grants the requested scopes at once. Accounts and their claims are the caller's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import { httpFetch } from './http-client.ts';

export interface PlainAccount {
  email: string;
  email_verified: boolean;
  name?: string;
  /** Any other claims (nested ones too), released with the scopes `scopeClaims` gives them. */
  [claim: string]: unknown;
}

export interface PlainProvider {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Accounts by account id (the `sub`); add more while running. */
  accounts: Map<string, PlainAccount>;
  /** Every request the stand-in received (method, then the URL as sent), in order. */
  requests: { method: string; url: URL }[];
  /** A JWT with `claims`, signed with the provider's own key (as its logout tokens are); `typ` logout+jwt. */
  sign(claims: JWTPayload): Promise<string>;
  /** Revokes every grant the account gave (as an admin disabling the user would): its tokens go inactive. */
  revokeGrants(accountId: string): Promise<number>;
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => resolve(new URLSearchParams(raw)));
    req.on('error', reject);
  });
}

export interface PlainProviderOptions {
  redirectUris: string[];
  /** Atrium's return routes, for RP-initiated logout. */
  postLogoutRedirectUris?: string[];
  accounts?: Record<string, PlainAccount>;
  /** Extra claims per scope (e.g. `{ profile: ['groups'] }`). */
  scopeClaims?: Record<string, string[]>;
  /** The issuer's path (Keycloak's `/realms/<realm>`): the provider is mounted there. */
  mountPath?: string;
  /** oidc-provider routes under the mount path, for a provider's own paths (Keycloak's `/protocol/openid-connect/...`). */
  routes?: Record<string, string>;
  /** false: no RP-initiated logout, so no end_session_endpoint in discovery (an upstream without end-session). */
  rpInitiatedLogout?: boolean;
  /**
   * A provider's own sign-out endpoint outside OpenID Connect (Auth0's `/v2/logout` with
   * `returnTo`, Cognito's `/logout` with `logout_uri`): it signs the browser out of the
   * stand-in (its session cookie cleared) and redirects to the address in `returnParam`.
   */
  logoutEndpoint?: { path: string; returnParam: string };
  /** RFC 7662 introspection at `/token/introspection` (oidc-provider's `features.introspection`). */
  introspection?: boolean;
  /** The downstream's back-channel logout URI, registered for its client (sid required). */
  backchannelLogoutUri?: string;
}

export async function startPlainProvider(options: PlainProviderOptions): Promise<PlainProvider> {
  const server = http.createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://localhost:${port}`;
  const mountPath = options.mountPath ?? '';
  const issuer = `${origin}${mountPath}`;
  const requests: { method: string; url: URL }[] = [];
  const clientId = 'atrium-downstream';
  const clientSecret = 'plain-provider-secret-0123456789abcdef';
  const accounts = new Map(Object.entries(options.accounts ?? {}));
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'plain-1', alg: 'RS256', use: 'sig' };

  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: clientId, client_secret: clientSecret, redirect_uris: options.redirectUris, post_logout_redirect_uris: options.postLogoutRedirectUris ?? [], grant_types: ['authorization_code'], response_types: ['code'],
        ...(options.backchannelLogoutUri ? { backchannel_logout_uri: options.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
      },
    ],
    // Its back-channel logout deliveries reach the downstream's *.localhost names on loopback.
    fetch: ((url: string | URL, init: Parameters<typeof httpFetch>[1]) => httpFetch(url, init)) as never,
    jwks: { keys: [jwk] },
    async findAccount(_ctx, sub) {
      const account = accounts.get(sub);
      if (!account) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...account }) };
    },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', ...(options.scopeClaims?.profile ?? [])] },
    features: { devInteractions: { enabled: false }, rpInitiatedLogout: { enabled: options.rpInitiatedLogout !== false }, backchannelLogout: { enabled: true }, introspection: { enabled: options.introspection === true } },
    ...(options.routes ? { routes: options.routes } : {}),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    cookies: { keys: ['plain-provider-cookie-key'] },
  });
  const handle = provider.callback();
  const grantsOf = new Map<string, string[]>();

  server.on('request', (req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', origin);
      requests.push({ method: req.method ?? 'GET', url });
      const logout = options.logoutEndpoint;
      if (logout && url.pathname === logout.path) {
        const back = url.searchParams.get(logout.returnParam);
        // The provider's session ends: its cookies go (names as oidc-provider sets them).
        res.writeHead(back ? 302 : 400, { ...(back ? { location: back } : {}), 'set-cookie': ['_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT', '_session.sig=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT', '_session.legacy=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT'] });
        res.end();
        return;
      }
      const m = /^\/interaction\/([^/]+)(\/login|\/abort)?$/.exec(url.pathname);
      if (!m) {
        if (mountPath && (url.pathname === mountPath || url.pathname.startsWith(`${mountPath}/`))) {
          // Mounted as Express would: oidc-provider reads the mount path from originalUrl.
          (req as http.IncomingMessage & { originalUrl?: string }).originalUrl = req.url;
          req.url = req.url!.slice(mountPath.length) || '/';
        }
        return handle(req, res);
      }
      const details = await provider.interactionDetails(req, res);
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end(
          `<!doctype html><title>Plain IdP</title><h1>Plain IdP sign-in</h1>` +
            `<form method="post" action="/interaction/${details.uid}/login"><label for="login">Email</label><input id="login" name="login"><button type="submit">Sign in at Plain IdP</button></form>` +
            `<form method="post" action="/interaction/${details.uid}/abort"><button type="submit">Cancel</button></form>`,
        );
        return;
      }
      if (m[2] === '/abort') {
        return provider.interactionFinished(req, res, { error: 'access_denied', error_description: 'the user cancelled' }, { mergeWithLastSubmission: false });
      }
      const login = (await readBody(req)).get('login') ?? '';
      const accountId = [...accounts.entries()].find(([, a]) => a.email === login)?.[0];
      if (!accountId) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end('unknown account');
        return;
      }
      const grant = new provider.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope));
      const grantId = await grant.save();
      grantsOf.set(accountId, [...(grantsOf.get(accountId) ?? []), grantId]);

      await provider.interactionFinished(req, res, { login: { accountId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    })().catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(err));
    });
  });

  return {
    issuer,
    clientId,
    clientSecret,
    accounts,
    requests,
    async revokeGrants(accountId) {
      let revoked = 0;
      for (const id of grantsOf.get(accountId) ?? []) {
        const grant = await provider.Grant.find(id);
        if (grant) revoked++;
        await grant?.destroy();
      }
      grantsOf.delete(accountId);
      return revoked;
    },
    sign: (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'logout+jwt' }).sign(privateKey),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
