/**
 * Sign-in through the real login and consent pages in Chromium: the code + PKCE flow a user
 * walks through on a phone, ending with openid-client redeeming the code.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, startCallbackServer, watchCspViolations } from './support/browser.ts';

const SKIP = chromiumMissing();

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let acme: TenantFixture;
/** A web client of acme whose redirect URI is served by `rp` (the fixture's client redirects to a host the browser cannot reach). */
let client: { clientId: string; clientSecret: string; redirectUri: string };

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  rp = await startCallbackServer();
  const created = await t.api('POST', '/tenants/acme/clients', {
    client_name: 'acme browser app',
    redirect_uris: [rp.redirectUri],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  client = { clientId: created.body.client_id, clientSecret: created.body.client_secret, redirectUri: rp.redirectUri };
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await t?.stop();
});

/** An authorization request for the tenant's web client, with PKCE, state and nonce. */
function authorizationRequest(fixture: TenantFixture) {
  return clientAuthorizationRequest(fixture.issuer, client, { redirect_uri: client.redirectUri, scope: 'openid email profile' });
}

async function newPhonePage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext(PHONE);
  const page = await context.newPage();
  return { context, page };
}

/** Submits the login form and waits for the page the server answers with. */
async function submitLogin(page: Page, email: string, password: string) {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname.endsWith('/login')),
    page.getByRole('button', { name: 'Sign in' }).click(),
  ]);
  await page.waitForLoadState('load');
  return response;
}

/** On the consent page: checks it, clicks Allow and waits for the redirect to the client. */
async function allowAndReturn(page: Page, fixture: TenantFixture): Promise<URL> {
  await page.waitForURL((u) => u.pathname.startsWith('/interaction/') && !u.pathname.endsWith('/login'));
  assert.equal(await page.getByRole('heading', { level: 1 }).textContent(), 'Allow access');
  assert.match((await page.locator('main').textContent()) ?? '', new RegExp(`Signed in as ${fixture.email.replace('.', '\\.')}`));
  await Promise.all([page.waitForURL((u) => u.href.startsWith(client.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
  return new URL(page.url());
}

describe('sign-in in a browser', () => {
  it('signs a user in through the login and consent pages and redeems the code', async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const { context, page } = await newPhonePage();
    try {
      const csp = watchCspViolations(page);
      const request = await authorizationRequest(acme);

      const response = await page.goto(request.url.href);
      assert.ok(response, 'the authorization URL answers');
      assert.equal(response.status(), 200);
      assert.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+$/, `expected the login page, got ${page.url()}`);
      assert.equal(new URL(page.url()).origin, acme.issuer, 'the login page is served on the tenant host');

      // The tenant's page, and no inline script anywhere.
      assert.equal(await page.title(), 'Sign in · acme Inc.');
      assert.equal((await page.locator('.brand-name').textContent())?.trim(), 'acme Inc.');
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Sign in');
      assert.match((await page.locator('main').textContent()) ?? '', /to continue to\s+acme browser app/);
      const policy = response.headers()['content-security-policy'];
      assert.ok(policy, 'the login page carries a Content-Security-Policy');
      assert.doesNotMatch(policy, /unsafe-inline|unsafe-eval/);
      assert.match(policy, /script-src 'self'/);
      assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline <script> on the login page');
      assert.equal(await page.locator('[style]').count(), 0, 'no inline style attributes (the CSP would block them)');
      // The stylesheet loaded under the CSP (the card has its rounded corners), and nothing
      // overflows the phone width. (Strings, not functions: the project compiles without DOM types.)
      assert.equal(await page.evaluate("getComputedStyle(document.querySelector('main.card')).borderRadius"), '12px');
      assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, 'no horizontal scrolling at 390px');
      await page.screenshot({ path: '/tmp/login.png', fullPage: true });

      const login = await submitLogin(page, acme.email, acme.password);
      assert.equal(login.status(), 303, 'a correct password redirects on');

      const callback = await allowAndReturn(page, acme);
      assert.equal(callback.origin + callback.pathname, client.redirectUri);
      assert.ok(callback.searchParams.get('code'), 'the redirect carries a code');
      assert.equal(callback.searchParams.get('state'), request.state);
      assert.equal(callback.searchParams.get('iss'), acme.issuer);
      assert.equal(callback.searchParams.get('error'), null);
      assert.ok(rp!.hits.some((h) => h.searchParams.get('code') === callback.searchParams.get('code')), 'the browser reached the client');
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations on the way');

      const tokens = await oidc.authorizationCodeGrant(request.config, callback, {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, acme.userId);
      assert.equal(claims.iss, acme.issuer);
      assert.equal(claims.aud, client.clientId);
    } finally {
      await context.close();
    }
  });

  it('shows an error and stays on the login page after a wrong password', async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const { context, page } = await newPhonePage();
    try {
      const request = await authorizationRequest(acme);
      await page.goto(request.url.href);
      const loginPath = new URL(page.url()).pathname;
      assert.match(loginPath, /^\/interaction\/[^/]+$/);

      const refused = await submitLogin(page, acme.email, 'not-the-password');
      assert.equal(refused.status(), 401);
      assert.equal(new URL(page.url()).origin, acme.issuer, 'still on the tenant host, not at the client');
      assert.ok(new URL(page.url()).pathname.startsWith(loginPath), `still in the same sign-in, got ${page.url()}`);
      assert.equal((await page.getByRole('alert').textContent())?.trim(), 'The email or password is incorrect.');
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Sign in');
      assert.equal(await page.getByLabel('Email').inputValue(), acme.email, 'the email is kept');
      assert.equal(await page.getByLabel('Password').inputValue(), '', 'the password is not echoed back');
      assert.equal(await page.locator('.brand-name').textContent(), 'acme Inc.');

      // The re-rendered form still works: the right password signs in.
      const login = await submitLogin(page, acme.email, acme.password);
      assert.equal(login.status(), 303);
      const callback = await allowAndReturn(page, acme);
      assert.equal(callback.searchParams.get('state'), request.state);
      const tokens = await oidc.authorizationCodeGrant(request.config, callback, {
        pkceCodeVerifier: request.verifier,
        expectedState: request.state,
        expectedNonce: request.nonce,
        idTokenExpected: true,
      });
      assert.equal(tokens.claims()!.sub, acme.userId);
    } finally {
      await context.close();
    }
  });
});
