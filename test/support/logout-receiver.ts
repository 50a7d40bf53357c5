/**
 * A relying party's back-channel logout endpoint on loopback (OpenID Connect Back-Channel
 * Logout 1.0, section 2.8): every POST is recorded as it arrived, and its `logout_token` is
 * verified with jose against the issuer's published JWKS (fetched from its discovery
 * document, never from Atrium's code), with the checks the spec asks of a receiver.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { httpFetch } from './http-client.ts';

export const BACKCHANNEL_EVENT = 'http://schemas.openid.net/event/backchannel-logout';

export interface ReceivedLogout {
  path: string;
  contentType: string;
  /** The raw logout token, as posted. */
  token: string;
  receivedAt: number;
}

export interface LogoutReceiver {
  url(path: string): string;
  received: ReceivedLogout[];
  /** Runs on each token (its unverified claims) before the receiver answers, as an RP would act on it. */
  onToken?: (claims: JWTPayload) => Promise<void>;
  /** Waits until a token posted to `path` satisfies `match` (by its unverified claims); throws after `timeoutMs`. */
  waitFor(path: string, match: (claims: JWTPayload) => boolean, timeoutMs?: number): Promise<ReceivedLogout>;
  /** Tokens posted to `path` so far whose unverified claims satisfy `match`. */
  matching(path: string, match: (claims: JWTPayload) => boolean): ReceivedLogout[];
  close(): Promise<void>;
}

const unverified = (token: string): JWTPayload => {
  try {
    return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as JWTPayload;
  } catch {
    return {};
  }
};

export async function startLogoutReceiver(): Promise<LogoutReceiver> {
  const received: ReceivedLogout[] = [];
  // eslint-disable-next-line prefer-const -- the server's handler reads it once it is built below
  let receiver: LogoutReceiver;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const body = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        const token = body.get('logout_token') ?? '';
        await receiver.onToken?.(unverified(token)).catch(() => undefined);
        received.push({ path: req.url ?? '/', contentType: String(req.headers['content-type'] ?? ''), token, receivedAt: Date.now() });
        // The spec's answer: 200, never cached.
        res.writeHead(200, { 'cache-control': 'no-store' }).end();
      })();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const matching = (path: string, match: (claims: JWTPayload) => boolean) => received.filter((r) => r.path === path && match(unverified(r.token)));
  receiver = {
    url: (path) => `http://127.0.0.1:${port}${path}`,
    received,
    matching,
    async waitFor(path, match, timeoutMs = 5_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = matching(path, match)[0];
        if (found) return found;
        if (Date.now() > deadline) throw new Error(`no logout token at ${path} within ${timeoutMs} ms (received: ${received.map((r) => r.path).join(', ') || 'none'})`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return receiver;
}

/**
 * Validates a logout token as a relying party must (Back-Channel Logout 1.0, 2.6): signature
 * against the issuer's JWKS, `iss`, `aud`, `iat`, the `events` member, `sid` or `sub`, and
 * no `nonce`. Answers the verified claims and header.
 */
export async function verifyLogoutToken(token: string, issuer: string, clientId: string) {
  const discovery = (await (await httpFetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string; backchannel_logout_supported?: boolean };
  const jwks = (await (await httpFetch(discovery.jwks_uri)).json()) as Parameters<typeof createLocalJWKSet>[0];
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer, audience: clientId, typ: 'logout+jwt', maxTokenAge: '2 minutes' });
  return { payload, protectedHeader, header: decodeProtectedHeader(token), discovery };
}
