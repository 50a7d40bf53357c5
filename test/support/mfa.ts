/** Second-factor sign-ins driven like a browser, with real TOTP codes from the enrolled secret. */
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { TestAtrium } from './atrium.ts';
import { authorizationRequest, REDIRECT_URI, type AuthorizationRequest, type TenantFixture } from './fixtures.ts';
import { hiddenInput, TestBrowser } from './http-client.ts';
import { signInToConsole } from './console.ts';
import { stepAt, totpCode } from '../../src/mfa/totp.ts';

export { stepAt, totpCode };

/** A TOTP code of the secret `offset` steps from now. */
export const codeAt = (secret: string, offset = 0) => totpCode(secret, stepAt(Date.now()) + offset);

/** A new user of the fixture's tenant; returns their credentials and id. */
export async function createUser(t: TestAtrium, f: TenantFixture, local: string, extra: Record<string, unknown> = {}): Promise<{ email: string; password: string; id: string }> {
  const email = `${local}@${f.slug}.test`;
  const password = `pw-${local}-correct-horse`;
  const res = await t.api('POST', `/tenants/${f.slug}/users`, { email, password, email_verified: true, ...extra });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { email, password, id: res.body.id };
}

export type Authorization = AuthorizationRequest;

/** An authorization request of the fixture's confidential client (extra parameters e.g. acr_values). */
export function authorization(f: TenantFixture, extra: Record<string, string> = {}): Promise<Authorization> {
  return authorizationRequest(f.issuer, f, extra);
}

const toCallback = (u: URL) => u.href.startsWith(REDIRECT_URI);

export interface Step {
  url: URL;
  status: number;
  html: string;
}

/** Follows redirects from `url` until a page or the client's callback. */
export async function open(browser: TestBrowser, url: string | URL): Promise<Step> {
  const step = await browser.follow(url, toCallback);
  return { url: step.url, status: step.res.status, html: toCallback(step.url) ? '' : await step.res.text() };
}

/** Posts a form of the current page (its CSRF token) and follows where it leads. */
export async function submit(browser: TestBrowser, from: Step, action: string, fields: Record<string, string>): Promise<Step> {
  const target = new URL(action, from.url);
  const res = await browser.postForm(target, { csrf: hiddenInput(from.html, 'csrf'), ...fields });
  if (res.status !== 303 && res.status !== 302) return { url: target, status: res.status, html: await res.text() };
  return open(browser, new URL(res.headers.get('location')!, target));
}

/** Opens the authorization URL and submits the password; the page or callback it leads to. */
export async function passwordStep(browser: TestBrowser, auth: Authorization, credentials: { email: string; password: string }): Promise<Step> {
  const login = await open(browser, auth.url);
  assert.match(login.html, /name="password"/, `expected the login page, got ${login.status} at ${login.url.href}`);
  return submit(browser, login, `${login.url.pathname.replace(/\/$/, '')}/login`, { email: credentials.email, password: credentials.password });
}

/** The second-factor page's form actions, relative to the interaction. */
export const mfaAction = (step: Step, what: 'totp' | 'recovery' | 'passkey' | 'enrol/totp' | 'continue') => `${/^\/interaction\/[^/]+/.exec(step.url.pathname)![0]}/mfa/${what}`;

/** Consents when asked, then redeems the code: the tokens and the ID token's claims. */
export async function finish(browser: TestBrowser, auth: Authorization, step: Step) {
  let current = step;
  if (!toCallback(current.url) && /\/confirm"/.test(current.html)) current = await submit(browser, current, `${current.url.pathname.replace(/\/$/, '')}/confirm`, {});
  assert.ok(toCallback(current.url), `expected the callback, got ${current.status} at ${current.url.href}: ${current.html.slice(0, 400)}`);
  const tokens = await oidc.authorizationCodeGrant(auth.config, current.url, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true });
  return { tokens, claims: tokens.claims()! };
}

/** Enrols an authenticator app on the account page; the secret and the recovery codes shown. */
export async function enrolTotp(origin: string, credentials: { email: string; password: string }, browser?: TestBrowser): Promise<{ secret: string; codes: string[]; browser: TestBrowser; accountHtml: string }> {
  const signedIn = await signInToConsole(origin, credentials, '/account', browser);
  const start = await signedIn.browser.postForm(`${origin}/account/mfa/totp`, { csrf: hiddenInput(signedIn.html, 'csrf') });
  assert.equal(start.status, 303, (await start.text()).slice(0, 300));
  assert.equal(start.headers.get('location'), '/account/mfa/totp', 'post/redirect/get');
  const shown = await signedIn.browser.request(`${origin}/account/mfa/totp`);
  const page = await shown.text();
  assert.equal(shown.status, 200, page.slice(0, 300));
  assert.match(page, /<svg[^>]*>/, 'the enrolment page shows a QR code');
  const secret = /data-totp-secret>([A-Z2-7]+)</.exec(page)![1]!;
  const confirm = await signedIn.browser.postForm(`${origin}/account/mfa/totp/confirm`, { csrf: hiddenInput(page, 'csrf'), code: codeAt(secret) });
  assert.equal(confirm.status, 303, (await confirm.text()).slice(0, 300));
  const codesPage = await signedIn.browser.request(`${origin}${confirm.headers.get('location')}`);
  const done = await codesPage.text();
  assert.equal(codesPage.status, 200, done.slice(0, 300));
  const codes = [...done.matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]!);
  const account = await signedIn.browser.request(`${origin}/account`);
  return { secret, codes, browser: signedIn.browser, accountHtml: await account.text() };
}

/** Sets a tenant's `security` configuration section. */
export async function setSecurity(t: TestAtrium, slug: string, security: Record<string, unknown>): Promise<void> {
  const res = await t.api('PUT', `/tenants/${slug}/config/security`, security);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}
