/**
 * Bring your own IdP in a real Chromium: the tenant's login page shows a button for its
 * upstream (a tenant of a second Atrium); clicking it, signing in there and coming back
 * completes the sign-in at the tenant, ending with openid-client redeeming the code.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser, Page } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, startCallbackServer, watchCspViolations } from './support/browser.ts';

const SKIP = chromiumMissing();
const PASSWORD = 'upstream-correct-horse-battery';

let down: TestAtrium | undefined;
let up: TestAtrium | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let acme: TenantFixture;
let client: { clientId: string; clientSecret: string; redirectUri: string };

before(async () => {
  if (SKIP) return;
  down = await startTestAtrium();
  up = await startTestAtrium();
  acme = await createTenantFixture(down, 'acme');
  await createTenantFixture(up, 'idp');
  assert.equal((await up.api('POST', '/tenants/idp/users', { email: 'alice@corp.test', password: PASSWORD, name: 'Alice Upstream', email_verified: true })).status, 201);
  const upstreamClient = await up.api('POST', '/tenants/idp/clients', {
    client_name: 'Acme at Atrium',
    redirect_uris: [`${down.issuer('acme')}/federation/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  assert.equal(upstreamClient.status, 201);
  const connection = await down.api('PUT', '/tenants/acme/federation/corp', {
    provider: 'generic_oidc',
    display_name: 'Corp SSO',
    issuer: up.issuer('idp'),
    client_id: upstreamClient.body.client_id,
    client_secret: upstreamClient.body.client_secret,
    allowed_domains: ['corp.test'],
    home_realm_domains: ['corp.test'],
  });
  assert.equal(connection.status, 201, JSON.stringify(connection.body));
  rp = await startCallbackServer();
  const created = await down.api('POST', '/tenants/acme/clients', { client_name: 'acme browser app', redirect_uris: [rp.redirectUri], grant_types: ['authorization_code'], response_types: ['code'] });
  assert.equal(created.status, 201);
  client = { clientId: created.body.client_id, clientSecret: created.body.client_secret, redirectUri: rp.redirectUri };
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await up?.stop();
  await down?.stop();
});

function authorizationRequest() {
  return clientAuthorizationRequest(acme.issuer, client, { redirect_uri: client.redirectUri, scope: 'openid email profile' });
}

/** At the upstream Atrium: sign in and allow; the browser is then sent back to acme. */
async function signInUpstream(page: Page) {
  await page.waitForURL((u) => u.origin === up!.issuer('idp') && u.pathname.startsWith('/interaction/'));
  await page.getByLabel('Email').fill('alice@corp.test');
  await page.getByLabel('Password').fill(PASSWORD);
  await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login') && u.pathname.startsWith('/interaction/')), page.getByRole('button', { name: 'Sign in' }).click()]);
  await Promise.all([page.waitForURL((u) => u.origin === acme.issuer), page.getByRole('button', { name: 'Allow' }).click()]);
}

/** Back at acme: allow the app, land at the relying party, redeem the code. */
async function allowAtAcmeAndRedeem(page: Page, request: Awaited<ReturnType<typeof authorizationRequest>>) {
  await page.waitForURL((u) => u.origin === acme.issuer && u.pathname.startsWith('/interaction/'));
  await Promise.all([page.waitForURL((u) => u.href.startsWith(client.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
  const callback = new URL(page.url());
  const tokens = await oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return tokens.claims()!;
}

it('clicks the upstream button, signs in at the upstream and comes back signed in', async (ctx) => {
  if (SKIP) return ctx.skip(SKIP);
  const context = await browser!.newContext(PHONE);
  try {
    const page = await context.newPage();
    const csp = watchCspViolations(page);
    const request = await authorizationRequest();
    await page.goto(request.url.href);
    assert.equal(new URL(page.url()).origin, acme.issuer);
    const button = page.getByRole('button', { name: 'Continue with Corp SSO' });
    assert.equal(await button.count(), 1, 'the login page shows the connection');
    await page.screenshot({ path: '/tmp/federation-login.png', fullPage: true });
    await button.click();
    await signInUpstream(page);
    const claims = await allowAtAcmeAndRedeem(page, request);
    assert.equal(claims.iss, acme.issuer);
    assert.notEqual(claims.sub, acme.userId);
    const user = await down!.api('GET', `/tenants/acme/users/${claims.sub}`);
    assert.equal(user.body.email, 'alice@corp.test');
    assert.deepEqual(csp, [], 'no Content-Security-Policy violations on the way');
  } finally {
    await context.close();
  }
});

it('sends an email of the connection’s domain straight to the upstream (home-realm discovery)', async (ctx) => {
  if (SKIP) return ctx.skip(SKIP);
  const context = await browser!.newContext(PHONE);
  try {
    const page = await context.newPage();
    const request = await authorizationRequest();
    await page.goto(request.url.href);
    await page.getByLabel('Email').fill('alice@corp.test');
    // The form asks for a password; home-realm discovery never looks at it.
    await page.getByLabel('Password').fill('not-checked-here');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await signInUpstream(page);
    const claims = await allowAtAcmeAndRedeem(page, request);
    assert.equal((await down!.api('GET', `/tenants/acme/users/${claims.sub}`)).body.email, 'alice@corp.test');
  } finally {
    await context.close();
  }
});
