/**
 * Social sign-in in a real Chromium (issue 13 acceptance): the tenant's login page shows a
 * GitHub and a Google button; each signs a user in against a local stand-in of the provider
 * (test/support/social-upstreams.ts, reached through SOCIAL_PROVIDER_URLS), and the
 * relying party redeems the code for an ID token of that user.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, startCallbackServer, watchCspViolations } from './support/browser.ts';
import { startSocialUpstream, type SocialUpstream } from './support/social-upstreams.ts';

const SKIP = chromiumMissing();

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let github: SocialUpstream | undefined;
let google: SocialUpstream | undefined;
let issuer: string;
let client: { clientId: string; clientSecret: string; redirectUri: string };

before(async () => {
  if (SKIP) return;
  github = await startSocialUpstream('github', { sub: '424242', email: 'hubber@gh.test', name: 'Hub Ber' });
  google = await startSocialUpstream('google', { sub: '771177', email: 'goo@gmail.test', name: 'Goo Gle', emailVerified: true });
  t = await startTestAtrium({ SOCIAL_PROVIDER_URLS: `github=${github.origin},google=${google.origin}` });
  issuer = (await createTenantFixture(t, 'acme')).issuer;
  const put = await t.api('PUT', '/tenants/acme/config/features', {
    social: { github: { enabled: true, client_id: github.clientId, client_secret: github.clientSecret }, google: { enabled: true, client_id: google.clientId, client_secret: google.clientSecret } },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.equal((await t.api('PUT', '/tenants/acme/config/branding', { company_name: 'Acme Social', colors: { light: { primary: '#7c3aed' } } })).status, 200);
  rp = await startCallbackServer();
  const created = await t.api('POST', '/tenants/acme/clients', { client_name: 'acme browser app', redirect_uris: [rp.redirectUri], grant_types: ['authorization_code'], response_types: ['code'] });
  assert.equal(created.status, 201);
  client = { clientId: created.body.client_id, clientSecret: created.body.client_secret, redirectUri: rp.redirectUri };
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await t?.stop();
  await github?.close();
  await google?.close();
});

for (const [label, provider] of [['GitHub', () => github!], ['Google', () => google!]] as const) {
  it(`the ${label} button signs a user in against the local ${label}`, async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const context = await browser!.newContext(PHONE);
    try {
      const page = await context.newPage();
      const csp = watchCspViolations(page);
      const request = await authorizationRequest(issuer, client, { redirect_uri: client.redirectUri, scope: 'openid email profile' });
      await page.goto(request.url.href);
      assert.match(await page.title(), /Acme Social/, "the tenant's brand");
      const button = page.getByRole('button', { name: `Continue with ${label}` });
      assert.equal(await button.count(), 1);
      await page.screenshot({ path: `/tmp/social-login-${label.toLowerCase()}.png`, fullPage: true });
      // The stand-in answers as a signed-in user who consents: straight back to the tenant, then its consent page.
      await button.click();
      await page.waitForURL((u) => u.origin === issuer && u.pathname.startsWith('/interaction/'));
      await Promise.all([page.waitForURL((u) => u.href.startsWith(client.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
      const tokens = await oidc.authorizationCodeGrant(request.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      const user = await t!.api('GET', `/tenants/acme/users/${claims.sub}`);
      assert.equal(user.body.email, provider().user.email);
      assert.equal(provider().authorizations.length, 1, 'one trip to the provider');
      assert.deepEqual(csp, []);
    } finally {
      await context.close();
    }
  });
}
