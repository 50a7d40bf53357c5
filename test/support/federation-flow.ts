/**
 * Federated sign-in driven like a browser: the downstream tenant's login page, its upstream
 * button, the upstream's own pages (an Atrium tenant or a plain oidc-provider), and back.
 * Each stage is a function, so tests can stop at the callback and replay, delay or misroute it.
 */
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { hiddenInput, TestBrowser } from './http-client.ts';
import { authorizationRequest as clientAuthorizationRequest, REDIRECT_URI, type TenantFixture } from './fixtures.ts';

export interface Downstream {
  fixture: TenantFixture;
  config: oidc.Configuration;
  verifier: string;
  state: string;
  nonce: string;
  authUrl: URL;
}

/** An authorization request of the fixture's web client (code + PKCE, state, nonce). */
export async function authorizationRequest(fixture: TenantFixture): Promise<Downstream> {
  const { url, ...rest } = await clientAuthorizationRequest(fixture.issuer, fixture, { scope: 'openid email profile' });
  return { fixture, ...rest, authUrl: url };
}

/** Opens the downstream login page; answers its URL and HTML. */
export async function openLoginPage(browser: TestBrowser, request: Downstream): Promise<{ url: URL; html: string }> {
  const step = await browser.follow(request.authUrl);
  const html = await step.res.text();
  assert.equal(step.res.status, 200, `expected the login page, got ${step.res.status}: ${html.slice(0, 300)}`);
  assert.match(step.url.pathname, /^\/interaction\/[^/]+$/);
  return { url: step.url, html };
}

/** Presses the connection's button (the form the login page would post); answers the response (303 to the upstream). */
export async function pressConnection(browser: TestBrowser, login: { url: URL; html: string }, connection: string) {
  return browser.postForm(`${login.url.href}/federation/${connection}`, { csrf: hiddenInput(login.html, 'csrf') });
}

/** From the login page to the upstream's authorization URL (asserting the redirect). */
export async function startAtUpstream(browser: TestBrowser, request: Downstream, connection: string): Promise<URL> {
  const login = await openLoginPage(browser, request);
  const res = await pressConnection(browser, login, connection);
  const body = await res.text();
  assert.equal(res.status, 303, `pressing ${connection}: ${res.status} ${body.slice(0, 300)}`);
  return new URL(res.headers.get('location')!);
}

// Any URL of the downstream Atrium: its callback, its relay, or a connection's own redirect_path.
const backAt = (downstreamPort: number) => (u: URL) => u.port === String(downstreamPort);

/**
 * Signs in at an upstream Atrium tenant (login and consent pages) and stops at the redirect
 * back to the downstream Atrium (its tenant callback or its `_ops` relay), not following it.
 */
export async function signInAtAtriumUpstream(browser: TestBrowser, upstreamAuthUrl: URL, credentials: { email: string; password: string }, downstreamPort: number): Promise<URL> {
  const stop = backAt(downstreamPort);
  let step = await browser.follow(upstreamAuthUrl, stop);
  for (let i = 0; i < 4 && !stop(step.url); i++) {
    const html = await step.res.text();
    assert.equal(step.res.status, 200, `expected an upstream page at ${step.url.href}, got ${step.res.status}: ${html.slice(0, 300)}`);
    const csrf = hiddenInput(html, 'csrf');
    const base = step.url.href.replace(/\/$/, '');
    const res = html.includes('name="password"')
      ? await browser.postForm(`${base}/login`, { csrf, email: credentials.email, password: credentials.password })
      : await browser.postForm(`${base}/confirm`, { csrf });
    assert.equal(res.status, 303, `upstream step at ${base}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    const next = new URL(res.headers.get('location')!, step.url);
    if (stop(next)) return next;
    step = await browser.follow(next, stop);
  }
  assert.ok(stop(step.url), `expected a redirect back to the downstream Atrium, ended at ${step.url.href}`);
  return step.url;
}

/** Signs in at the plain oidc-provider (its one-field form) and stops at the redirect back. */
export async function signInAtPlainUpstream(browser: TestBrowser, upstreamAuthUrl: URL, email: string, downstreamPort: number): Promise<URL> {
  const stop = backAt(downstreamPort);
  const page = await browser.follow(upstreamAuthUrl, stop);
  if (stop(page.url)) return page.url;
  await page.res.text();
  const res = await browser.postForm(`${page.url.href}/login`, { login: email });
  assert.equal(res.status, 303, `plain upstream sign-in: ${res.status}`);
  const back = await browser.follow(new URL(res.headers.get('location')!, page.url), stop);
  assert.ok(stop(back.url), `expected a redirect back to the downstream Atrium, ended at ${back.url.href}`);
  return back.url;
}

/**
 * Follows the callback into the downstream Atrium: on success through its consent page to
 * the client's redirect URI; answers the final URL, or the error page's status and HTML.
 */
export async function finishDownstream(browser: TestBrowser, callback: URL): Promise<{ redirect?: URL; status: number; html: string }> {
  const toClient = (u: URL) => u.href.startsWith(REDIRECT_URI);
  let step = await browser.follow(callback, toClient);
  for (let i = 0; i < 3 && !toClient(step.url); i++) {
    const html = await step.res.text();
    if (step.res.status !== 200 || !step.url.pathname.startsWith('/interaction/') || !html.includes('/confirm')) return { status: step.res.status, html };
    const res = await browser.postForm(`${step.url.href.replace(/\/$/, '')}/confirm`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(res.status, 303);
    step = await browser.follow(new URL(res.headers.get('location')!, step.url), toClient);
  }
  return { redirect: step.url, status: 303, html: '' };
}

/** Redeems the downstream code and answers the ID token's claims. */
export async function redeem(request: Downstream, redirect: URL) {
  const tokens = await oidc.authorizationCodeGrant(request.config, redirect, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return tokens.claims()!;
}

/** The correlation id shown on an error page. */
export function correlationIdOf(html: string): string | undefined {
  return /<code>([^<]+)<\/code>/.exec(html)?.[1];
}

/** `prompt=none` at an issuer for a client of it, in `browser`: the error the client gets back (null: a code). */
export async function silentAuthorization(browser: TestBrowser, issuer: string, client: { clientId: string; clientSecret: string }): Promise<string | null> {
  const { url } = await clientAuthorizationRequest(issuer, client, { prompt: 'none' });
  const answer = await browser.follow(url, (u) => u.href.startsWith(REDIRECT_URI));
  assert.ok(answer.url.href.startsWith(REDIRECT_URI), `prompt=none ends at the client: ${answer.url.href}`);
  return answer.url.searchParams.get('error') ?? (answer.url.searchParams.get('code') ? null : 'no code');
}

/** Follows a relying party's end-session URL at `issuer` and confirms the sign-out there; answers where the browser is sent next. */
export async function confirmSignOut(browser: TestBrowser, issuer: string, endSession: URL): Promise<URL> {
  const page = await browser.follow(endSession);
  const html = await page.res.text();
  assert.equal(page.res.status, 200, html.slice(0, 300));
  const confirmed = await browser.postForm(`${issuer}/session/end/confirm`, { xsrf: hiddenInput(html, 'xsrf'), logout: 'yes' });
  assert.equal(confirmed.status, 303);
  return new URL(confirmed.headers.get('location')!);
}
