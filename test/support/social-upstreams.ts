/**
 * Local stand-ins for the social providers, each speaking its provider's wire format at the
 * provider's own paths (Atrium reaches them through SOCIAL_PROVIDER_URLS and the egress
 * guard): an authorization endpoint that answers as a user who is signed in and consents
 * (a redirect with `code` and `state`; Apple's form post is left to the test), a token
 * endpoint that checks the client's credentials (Apple's: its ES256 client-secret JWT
 * against the tenant's key), the redirect URI and the PKCE verifier, and then ID tokens
 * signed with the stand-in's own key (Google, Microsoft, Apple) or the user APIs (GitHub's
 * /user and /user/emails, Facebook's /me).
 */
import http from 'node:http';
import { createHash, randomBytes, generateKeyPairSync, createPublicKey, type KeyObject } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { exportJWK, jwtVerify, SignJWT } from 'jose';

export type SocialName = 'google' | 'microsoft' | 'github' | 'apple' | 'facebook';

export interface UpstreamUser {
  sub: string;
  email?: string;
  emailVerified?: boolean;
  name?: string;
  /** GitHub: the /user/emails list as the test wants it (default: the email, primary and verified). */
  githubEmails?: { email: string; primary: boolean; verified: boolean; visibility: string | null }[];
}

export interface SocialUpstream {
  origin: string;
  name: SocialName;
  clientId: string;
  clientSecret: string;
  /** Apple: the tenant's key pair (the .p8 the tenant uploads, and the public half Apple keeps). */
  appleKey?: { pem: string; publicKey: KeyObject; keyId: string; teamId: string };
  user: UpstreamUser;
  /** Every authorization request's query, and every request path. */
  authorizations: URLSearchParams[];
  paths: string[];
  close(): Promise<void>;
}

const MS_TID = '9188040d-6c67-4c5b-b112-36a304b66dad';

const AUTHORIZE: Record<SocialName, string> = {
  google: '/o/oauth2/v2/auth', microsoft: '/common/oauth2/v2.0/authorize', apple: '/auth/authorize', github: '/login/oauth/authorize', facebook: '/v19.0/dialog/oauth',
};
const TOKEN: Record<SocialName, string> = {
  google: '/token', microsoft: '/common/oauth2/v2.0/token', apple: '/auth/token', github: '/login/oauth/access_token', facebook: '/v19.0/oauth/access_token',
};
const JWKS: Partial<Record<SocialName, string>> = { google: '/oauth2/v3/certs', microsoft: '/common/discovery/v2.0/keys', apple: '/auth/keys' };

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSocialUpstream(name: SocialName, user: UpstreamUser): Promise<SocialUpstream> {
  const signing = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(signing.publicKey)), kid: 'upstream-1', alg: 'RS256', use: 'sig' };
  const apple = name === 'apple' ? generateKeyPairSync('ec', { namedCurve: 'prime256v1' }) : undefined;
  const codes = new Map<string, { redirectUri: string; challenge: string | null; nonce: string | null; scope: string }>();
  const tokens = new Set<string>();
  const authorizations: URLSearchParams[] = [];
  const paths: string[] = [];
  const clientId = `${name}-client-${randomBytes(3).toString('hex')}`;
  const clientSecret = `${name}-secret-${randomBytes(8).toString('hex')}`;
  let origin = '';
  const upstream: SocialUpstream = {
    get origin() { return origin; }, name, clientId, clientSecret, user, authorizations, paths,
    appleKey: apple && { pem: apple.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), publicKey: createPublicKey(apple.privateKey), keyId: 'KEY1234567', teamId: 'TEAM123456' },
    close: async () => {},
  };

  const issuer = () => (name === 'microsoft' ? `${origin}/${MS_TID}/v2.0` : origin);
  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const bearer = (req: http.IncomingMessage) => tokens.has((req.headers.authorization ?? '').replace(/^Bearer /, ''));

  async function clientAuthenticated(params: URLSearchParams): Promise<boolean> {
    if (params.get('client_id') !== clientId) return false;
    if (name !== 'apple') return params.get('client_secret') === clientSecret;
    try {
      const { payload, protectedHeader } = await jwtVerify(params.get('client_secret') ?? '', upstream.appleKey!.publicKey, { issuer: upstream.appleKey!.teamId, audience: 'https://appleid.apple.com', subject: clientId, algorithms: ['ES256'] });
      return protectedHeader.kid === upstream.appleKey!.keyId && typeof payload.exp === 'number';
    } catch {
      return false;
    }
  }

  async function token(req: http.IncomingMessage, url: URL, res: http.ServerResponse) {
    const params = name === 'facebook' ? url.searchParams : new URLSearchParams(await readBody(req));
    if (name !== 'github' && name !== 'facebook' && params.get('grant_type') !== 'authorization_code') return send(res, 400, { error: 'unsupported_grant_type' });
    if (!(await clientAuthenticated(params))) return send(res, name === 'github' ? 200 : 401, { error: name === 'github' ? 'incorrect_client_credentials' : 'invalid_client' });
    const grant = codes.get(params.get('code') ?? '');
    codes.delete(params.get('code') ?? '');
    if (!grant || grant.redirectUri !== params.get('redirect_uri')) return send(res, name === 'github' ? 200 : 400, { error: name === 'github' ? 'bad_verification_code' : 'invalid_grant' });
    if (grant.challenge !== null && createHash('sha256').update(params.get('code_verifier') ?? '').digest('base64url') !== grant.challenge) return send(res, 400, { error: 'invalid_grant', error_description: 'code_verifier' });
    const access = randomBytes(16).toString('hex');
    tokens.add(access);
    if (name === 'github') return send(res, 200, { access_token: access, token_type: 'bearer', scope: grant.scope.replace(/ /g, ',') });
    if (name === 'facebook') return send(res, 200, { access_token: access, token_type: 'bearer', expires_in: 5183944 });
    const claims: Record<string, unknown> = { nonce: grant.nonce, email: user.email, name: name === 'apple' ? undefined : user.name };
    if (name === 'google') claims.email_verified = user.emailVerified ?? true;
    if (name === 'apple') claims.email_verified = String(user.emailVerified ?? true);
    if (name === 'microsoft') Object.assign(claims, { tid: MS_TID, oid: `oid-${user.sub}`, preferred_username: user.email });
    const idToken = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: 'upstream-1' }).setIssuer(issuer()).setAudience(clientId).setSubject(user.sub).setIssuedAt().setExpirationTime('5m').sign(signing.privateKey);
    send(res, 200, { access_token: access, token_type: 'Bearer', expires_in: 3599, id_token: idToken, scope: grant.scope });
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', origin);
    paths.push(url.pathname);
    void (async () => {
      if (req.method === 'GET' && url.pathname === AUTHORIZE[name]) {
        authorizations.push(url.searchParams);
        const code = randomBytes(12).toString('hex');
        codes.set(code, { redirectUri: url.searchParams.get('redirect_uri') ?? '', challenge: url.searchParams.get('code_challenge'), nonce: url.searchParams.get('nonce'), scope: url.searchParams.get('scope') ?? '' });
        const back = new URL(url.searchParams.get('redirect_uri') ?? '');
        back.searchParams.set('code', code);
        back.searchParams.set('state', url.searchParams.get('state') ?? '');
        if (name === 'apple') {
          // form_post: the page a browser would post back; tests post it themselves.
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ action: url.searchParams.get('redirect_uri'), code, state: url.searchParams.get('state') }));
        }
        res.writeHead(302, { location: back.href });
        return res.end();
      }
      if (url.pathname === TOKEN[name]) return token(req, url, res);
      if (req.method === 'GET' && url.pathname === JWKS[name]) return send(res, 200, { keys: [jwk] });
      if (name === 'github' && url.pathname === '/user') {
        if (!bearer(req) || !req.headers['user-agent']) return send(res, 401, { message: 'Requires authentication' });
        return send(res, 200, { login: `octo-${user.sub}`, id: Number(user.sub), name: user.name ?? null, email: null });
      }
      if (name === 'github' && url.pathname === '/user/emails') {
        if (!bearer(req)) return send(res, 401, { message: 'Requires authentication' });
        return send(res, 200, user.githubEmails ?? (user.email ? [{ email: user.email, primary: true, verified: user.emailVerified ?? true, visibility: 'private' }] : []));
      }
      if (name === 'facebook' && url.pathname === '/v19.0/me') {
        if (!bearer(req)) return send(res, 400, { error: { message: 'Invalid OAuth access token.', type: 'OAuthException', code: 190 } });
        const fields = (url.searchParams.get('fields') ?? '').split(',');
        return send(res, 200, Object.fromEntries([['id', user.sub], ['name', user.name], ['email', user.email]].filter(([k, v]) => fields.includes(k!) && v !== undefined)));
      }
      send(res, 404, { error: 'not_found' });
    })().catch(() => send(res, 500, { error: 'server_error' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  upstream.close = () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); });
  return upstream;
}
