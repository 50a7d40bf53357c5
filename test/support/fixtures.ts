/** Common set-up through the public API, and a sign-in driven like a browser would. */
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { TestAtrium } from './atrium.ts';
import { customFetchImpl, hiddenInput, TestBrowser } from './http-client.ts';

export const REDIRECT_URI = 'https://rp.example.test/callback';

export interface TenantFixture {
  slug: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  publicClientId: string;
  m2mClientId: string;
  m2mClientSecret: string;
  email: string;
  password: string;
  userId: string;
}

/** A tenant with a confidential web client, a public client, a machine client and one user. */
export async function createTenantFixture(t: TestAtrium, slug: string): Promise<TenantFixture> {
  const tenant = await t.api('POST', '/tenants', { slug, name: `${slug} Inc.` });
  assert.equal(tenant.status, 201, JSON.stringify(tenant.body));
  const web = await t.api('POST', `/tenants/${slug}/clients`, {
    client_name: `${slug} web`,
    redirect_uris: [REDIRECT_URI],
    post_logout_redirect_uris: ['https://rp.example.test/logged-out'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  });
  assert.equal(web.status, 201, JSON.stringify(web.body));
  const pub = await t.api('POST', `/tenants/${slug}/clients`, {
    client_name: `${slug} spa`,
    redirect_uris: [REDIRECT_URI],
    token_endpoint_auth_method: 'none',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
  });
  assert.equal(pub.status, 201, JSON.stringify(pub.body));
  const m2m = await t.api('POST', `/tenants/${slug}/clients`, { client_name: `${slug} service`, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  assert.equal(m2m.status, 201, JSON.stringify(m2m.body));
  const email = `user@${slug}.test`;
  const password = `pw-${slug}-correct-horse`;
  const user = await t.api('POST', `/tenants/${slug}/users`, { email, password, name: `User of ${slug}`, email_verified: true });
  assert.equal(user.status, 201, JSON.stringify(user.body));
  return {
    slug,
    issuer: t.issuer(slug),
    clientId: web.body.client_id,
    clientSecret: web.body.client_secret,
    publicClientId: pub.body.client_id,
    m2mClientId: m2m.body.client_id,
    m2mClientSecret: m2m.body.client_secret,
    email,
    password,
    userId: user.body.id,
  };
}

/** openid-client configuration for a tenant's client (discovery over loopback). */
export async function discover(issuer: string, clientId: string, clientSecret?: string): Promise<oidc.Configuration> {
  return oidc.discovery(new URL(issuer), clientId, clientSecret, clientSecret ? oidc.ClientSecretBasic(clientSecret) : oidc.None(), {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: customFetchImpl as never,
  });
}

/** An authorization request (code, PKCE, state and nonce): what a test needs to send a browser and redeem the code. */
export interface AuthorizationRequest {
  config: oidc.Configuration;
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

/**
 * An authorization request of a client at `issuer`; `params` adds to or overrides the
 * defaults (REDIRECT_URI, scope `openid email`).
 */
export async function authorizationRequest(issuer: string, client: { clientId: string; clientSecret?: string }, params: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const config = await discover(issuer, client.clientId, client.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope: 'openid email',
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...params,
  });
  return { config, url, verifier, state, nonce };
}

export class SignInRefused extends Error {
  readonly status: number;
  readonly page: string;
  constructor(status: number, page: string) {
    super(`sign-in refused with status ${status}`);
    this.status = status;
    this.page = page;
  }
}

export interface SignInResult {
  callback: URL;
  browser: TestBrowser;
}

/**
 * Opens the authorization URL, submits the login form (and consent, when asked) and
 * returns the redirect to the client's redirect_uri.
 */
export async function signInThroughPages(authUrl: URL, credentials: { email: string; password: string }, browser = new TestBrowser()): Promise<SignInResult> {
  const toCallback = (u: URL) => u.href.startsWith(REDIRECT_URI);
  let step = await browser.follow(authUrl, toCallback);
  for (let i = 0; i < 4 && !toCallback(step.url); i++) {
    const html = await step.res.text();
    assert.equal(step.res.status, 200, `expected a page at ${step.url.href}, got ${step.res.status}: ${html.slice(0, 300)}`);
    const csrf = hiddenInput(html, 'csrf');
    const base = step.url.href.replace(/\/$/, '');
    const res = html.includes('name="password"')
      ? await browser.postForm(`${base}/login`, { csrf, email: credentials.email, password: credentials.password })
      : await browser.postForm(`${base}/confirm`, { csrf });
    if (res.status !== 303) throw new SignInRefused(res.status, await res.text());
    step = await browser.follow(new URL(res.headers.get('location')!, step.url), toCallback);
  }
  return { callback: step.url, browser };
}
