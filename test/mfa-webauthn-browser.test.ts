/**
 * Passkeys in a real Chromium with a virtual authenticator (Chrome DevTools Protocol
 * `WebAuthn.addVirtualAuthenticator`): registration on the account page, sign-in with
 * the passkey as second factor (amr pwd+hwk) and passwordless (amr hwk+user), both at
 * the MFA level; an assertion made for one tenant is refused by another.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, startCallbackServer, watchCspViolations } from './support/browser.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { open } from './support/mfa.ts';

const SKIP = chromiumMissing();
const LOA2 = 'urn:atrium:loa:2';

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let acme: TenantFixture;
let globex: TenantFixture;
const clients = new Map<string, { clientId: string; clientSecret: string }>();

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  rp = await startCallbackServer();
  for (const slug of ['acme', 'globex']) {
    const created = await t.api('POST', `/tenants/${slug}/clients`, { client_name: `${slug} browser app`, redirect_uris: [rp.redirectUri], grant_types: ['authorization_code'], response_types: ['code'] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    clients.set(slug, { clientId: created.body.client_id, clientSecret: created.body.client_secret });
  }
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await t?.stop();
});

function authorizationRequest(fixture: TenantFixture) {
  return clientAuthorizationRequest(fixture.issuer, clients.get(fixture.slug)!, { redirect_uri: rp!.redirectUri });
}

/** A page whose browser holds a virtual platform authenticator (resident keys, user verification). */
async function pageWithAuthenticator(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext();
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
  });
  return { context, page };
}

async function signInWithPassword(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await Promise.all([page.waitForLoadState('load'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
}

/** Allows on the consent page when it is shown, then redeems the code at the client. */
async function redeem(page: Page, request: Awaited<ReturnType<typeof authorizationRequest>>) {
  await page.waitForURL((u) => u.href.startsWith(rp!.redirectUri) || (u.pathname.startsWith('/interaction/') && !/\/(mfa|login|passkey)/.test(u.pathname)));
  if (!page.url().startsWith(rp!.redirectUri)) {
    await Promise.all([page.waitForURL((u) => u.href.startsWith(rp!.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
  }
  const tokens = await oidc.authorizationCodeGrant(request.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return tokens.claims()!;
}

describe('passkeys in Chromium', () => {
  it('registers a passkey, then uses it as second factor and passwordless; another tenant refuses its assertion', async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const { context, page } = await pageWithAuthenticator();
    try {
      const csp = watchCspViolations(page);

      // 1. Register on the account page.
      await page.goto(`${acme.issuer}/account`);
      await signInWithPassword(page, acme.email, acme.password);
      await page.waitForURL((u) => u.pathname === '/account');
      await Promise.all([page.waitForURL((u) => u.search.includes('done=passkey_added')), page.locator('#add-passkey').click()]);
      assert.equal(await page.locator('[data-passkey]').count(), 1);

      // 2. Second factor: password, then the passkey.
      await context.clearCookies();
      const second = await authorizationRequest(acme);
      await page.goto(second.url.href);
      await signInWithPassword(page, acme.email, acme.password);
      await page.waitForURL((u) => u.pathname.endsWith('/mfa'));
      await page.locator('#use-passkey').click();
      const mfaClaims = await redeem(page, second);
      assert.deepEqual(mfaClaims.amr, ['pwd', 'hwk']);
      assert.equal(mfaClaims.acr, LOA2);

      // 3. Passwordless: the passkey alone, user-verified, capturing the assertion it posts.
      await context.clearCookies();
      const passwordless = await authorizationRequest(acme);
      await page.goto(passwordless.url.href);
      let posted = '';
      page.on('request', (r) => {
        if (r.method() === 'POST' && new URL(r.url()).pathname.endsWith('/passkey')) posted = r.postData() ?? '';
      });
      await page.locator('#passkey-sign-in').click();
      const claims = await redeem(page, passwordless);
      assert.equal(claims.sub, acme.userId);
      assert.deepEqual(claims.amr, ['hwk', 'user']);
      assert.equal(claims.acr, LOA2);
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations');

      // 4. The same assertion, posted to another tenant's sign-in, is refused.
      const assertion = new URLSearchParams(posted).get('response');
      assert.ok(assertion, 'the passkey form posted an assertion');
      const other = new TestBrowser();
      const login = await open(other, (await authorizationRequest(globex)).url);
      const refused = await other.postForm(new URL(`${login.url.pathname}/passkey`, globex.issuer), { csrf: hiddenInput(login.html, 'csrf'), response: assertion });
      assert.equal(refused.status, 401);
      // And replayed at acme outside its interaction, it signs no one in either.
      const replay = new TestBrowser();
      const acmeLogin = await open(replay, (await authorizationRequest(acme)).url);
      const replayed = await replay.postForm(new URL(`${acmeLogin.url.pathname}/passkey`, acme.issuer), { csrf: hiddenInput(acmeLogin.html, 'csrf'), response: assertion });
      assert.equal(replayed.status, 401);
    } finally {
      await context.close();
    }
  });

  it("registers a passkey during sign-in when the 'all' policy requires MFA", async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const policy = await t!.api('PUT', '/tenants/globex/config/security', { mfa: { required: 'all' } });
    assert.equal(policy.status, 200, JSON.stringify(policy.body));
    const { context, page } = await pageWithAuthenticator();
    try {
      const request = await authorizationRequest(globex);
      await page.goto(request.url.href);
      await signInWithPassword(page, globex.email, globex.password);
      await page.waitForURL((u) => u.pathname.endsWith('/mfa'));
      assert.equal(await page.locator('svg').count(), 1, 'the enrolment page offers an authenticator app too');
      await page.locator('#register-passkey').click();
      const claims = await redeem(page, request);
      assert.deepEqual(claims.amr, ['pwd', 'hwk']);
      assert.equal(claims.acr, LOA2);
      // The next sign-in asks for that passkey, not for enrolment.
      await context.clearCookies();
      const next = await authorizationRequest(globex);
      await page.goto(next.url.href);
      await signInWithPassword(page, globex.email, globex.password);
      await page.waitForURL((u) => u.pathname.endsWith('/mfa'));
      assert.equal(await page.locator('#use-passkey').count(), 1);
    } finally {
      await context.close();
    }
  });
});
