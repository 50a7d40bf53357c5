/**
 * Multi-request operations of the bench: a full password sign-in through Atrium's pages
 * (driven like a browser, with the test suite's own helpers, so the bench and the tests
 * sign in the same way), and refresh-token grants that keep the rotated token.
 */
import * as oidc from 'openid-client';
import type { Pool } from 'undici';
import { discover, REDIRECT_URI, signInThroughPages } from '../test/support/fixtures.ts';
import { basicAuth, type Target } from './targets.ts';

export interface SignInUser {
  issuer: string;
  client: Target;
  email: string;
  password: string;
}

/**
 * One sign-in as a new browser: authorization request (PKCE, state, nonce, prompt=consent),
 * login form (argon2id verification), consent form, and the code exchanged for tokens
 * (ID token checked). `config` comes from one discovery per worker, done outside the timing.
 */
export async function signInOnce(config: oidc.Configuration, user: SignInUser, scope = 'openid email'): Promise<oidc.TokenEndpointResponse> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    prompt: 'consent',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const { callback } = await signInThroughPages(url, user);
  return oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
}

export function discoverFor(user: SignInUser): Promise<oidc.Configuration> {
  return discover(user.issuer, user.client.clientId, user.client.clientSecret);
}

/** A refresh token obtained by signing in with offline_access. */
export async function refreshTokenBySignIn(config: oidc.Configuration, user: SignInUser): Promise<string> {
  const tokens = await signInOnce(config, user, 'openid email offline_access');
  if (!tokens.refresh_token) throw new Error(`no refresh token from ${user.issuer}`);
  return tokens.refresh_token;
}

/**
 * A refresh grant per call for worker `worker`, each worker with its own token chain: the
 * rotated refresh token of one answer is sent in the next request.
 */
export function refreshOperation(pool: Pool, client: Target, tokens: string[]): (worker: number) => Promise<void> {
  return async (worker) => {
    const res = await pool.request({
      method: 'POST',
      path: '/token',
      headers: { host: client.host, authorization: basicAuth(client.clientId, client.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: tokens[worker]! }).toString(),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`refresh: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    const body = JSON.parse(text) as { refresh_token?: string; access_token?: string };
    if (!body.access_token) throw new Error(`refresh: no access_token in ${text.slice(0, 200)}`);
    if (body.refresh_token) tokens[worker] = body.refresh_token;
  };
}
