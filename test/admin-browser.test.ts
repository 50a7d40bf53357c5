/**
 * The /admin acceptance in Chromium: a tenant admin signs in to /admin, creates an
 * application and a user with the forms, and that user then signs in to the application
 * through the tenant's login and consent pages, the code redeemed by openid-client. A
 * member who signs in is refused /admin. Pages are checked at phone width, under the CSP.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, startCallbackServer, watchCspViolations } from './support/browser.ts';

const SKIP = chromiumMissing();

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let acme: TenantFixture;
const member = { email: 'member@acme.test', password: 'member-password-long' };

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme'); // its user is the tenant's first, so its owner
  const res = await t.api('POST', '/tenants/acme/users', { ...member, roles: ['member'], email_verified: true });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  rp = await startCallbackServer();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await t?.stop();
});

async function newPhonePage(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext(PHONE);
  return { context, page: await context.newPage() };
}

/** On the tenant's login page: fills the form and waits for where the sign-in leads. */
async function signIn(page: Page, email: string, password: string): Promise<number> {
  assert.match(new URL(page.url()).pathname, /^\/interaction\/[^/]+$/, `expected the login page, got ${page.url()}`);
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  // The POST and the redirects after it (to the consent page, or back to the console) are one navigation.
  const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
  return response?.status() ?? 0;
}

/** The page fits a phone: nothing makes the whole page scroll sideways, no inline style or script. */
async function assertPhoneFriendly(page: Page): Promise<void> {
  assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, `no horizontal scrolling at 390px on ${page.url()}`);
  assert.equal(await page.locator('[style]').count(), 0, 'no inline style attributes');
  assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
}

/** Clicks a button or link and waits for the page it leads to. */
async function clickAndLoad(page: Page, locator: ReturnType<Page['getByRole']>): Promise<number> {
  const [response] = await Promise.all([page.waitForNavigation(), locator.click()]);
  return response?.status() ?? 0;
}

describe('/admin in a browser', () => {
  it('lets a tenant admin create an application and a user, who then signs in to it', async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    // What the admin is shown, for the relying party to use.
    const shown = { clientId: '', clientSecret: '' };
    const { context, page } = await newPhonePage();
    try {
      const csp = watchCspViolations(page);
      // The admin opens /admin, is sent to the tenant's login page and brought back.
      await page.goto(`${acme.issuer}/admin`);
      assert.equal(await signIn(page, acme.email, acme.password), 200);
      assert.equal(page.url(), `${acme.issuer}/admin`);
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Administration of acme Inc.');
      await assertPhoneFriendly(page);

      // An application, with the relying party's redirect URI.
      await clickAndLoad(page, page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Applications' }));
      await clickAndLoad(page, page.getByRole('link', { name: 'Add an application' }));
      await assertPhoneFriendly(page);
      await page.getByLabel('Name', { exact: true }).fill('Acme intranet');
      await page.getByLabel(/Web application/).check();
      await page.getByLabel('Redirect URIs', { exact: true }).fill(rp!.redirectUri);
      assert.equal(await clickAndLoad(page, page.getByRole('button', { name: 'Add the application' })), 200, 'the page the 303 leads to');
      shown.clientId = (await page.locator('#client-id').textContent())!.trim();
      shown.clientSecret = (await page.locator('#client-secret').textContent())!.trim();
      assert.ok(shown.clientId && shown.clientSecret.length >= 32, 'the new client and its secret are on the page');
      assert.match((await page.locator('.secret-once').textContent()) ?? '', /shown this once/);
      await assertPhoneFriendly(page);

      // A user, with a password.
      await clickAndLoad(page, page.getByRole('navigation', { name: 'Administration' }).getByRole('link', { name: 'Users' }));
      await assertPhoneFriendly(page);
      await clickAndLoad(page, page.getByRole('link', { name: 'Add a user' }));
      await page.getByLabel('Email', { exact: true }).fill('erin@acme.test');
      await page.getByLabel('Name', { exact: true }).fill('Erin');
      await page.getByLabel('Password', { exact: true }).fill('erin-password-long');
      await page.getByLabel('Email address verified').check();
      assert.equal(await page.getByLabel('Member').isChecked(), true, 'member by default');
      await clickAndLoad(page, page.getByRole('button', { name: 'Add the user' }));
      assert.match(new URL(page.url()).pathname, /^\/admin\/users\/[0-9a-f-]{36}$/);
      assert.equal((await page.getByRole('status').textContent())?.trim(), 'Created.');
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'erin@acme.test');
      await assertPhoneFriendly(page);
      await page.screenshot({ path: '/tmp/admin-user.png', fullPage: true });
      // The other areas fit a phone too (their tables scroll inside their box).
      for (const path of ['/admin/clients', '/admin/branding', '/admin/security', '/admin/keys', '/admin/audit']) {
        assert.equal((await page.goto(`${acme.issuer}${path}`))?.status(), 200, path);
        await assertPhoneFriendly(page);
      }
      await page.goto(`${acme.issuer}/admin/branding`);
      await page.screenshot({ path: '/tmp/admin-branding.png', fullPage: true });
      await page.goto(`${acme.issuer}/admin/audit`);
      await page.screenshot({ path: '/tmp/admin-audit.png', fullPage: true });
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations in /admin');
    } finally {
      await context.close();
    }

    // Erin signs in to the new application, in her own browser, with a real OIDC client
    // using the id and secret the admin was shown.
    const { clientId, clientSecret } = shown;
    const { config, url: authUrl, verifier, state, nonce } = await authorizationRequest(acme.issuer, { clientId, clientSecret }, { redirect_uri: rp!.redirectUri, scope: 'openid email profile' });
    const { context: erinContext, page: erinPage } = await newPhonePage();
    try {
      await erinPage.goto(authUrl.href);
      assert.match((await erinPage.locator('main').textContent()) ?? '', /to continue to\s+Acme intranet/);
      assert.equal(await signIn(erinPage, 'erin@acme.test', 'erin-password-long'), 200);
      assert.equal((await erinPage.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Allow access');
      await Promise.all([erinPage.waitForURL((u) => u.href.startsWith(rp!.redirectUri)), erinPage.getByRole('button', { name: 'Allow' }).click()]);
      const callback = new URL(erinPage.url());
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      assert.equal(claims.iss, acme.issuer);
      assert.equal(claims.aud, clientId);
      const user = (await t!.api('GET', '/tenants/acme/users?search=erin')).body.users[0] as { id: string; email: string };
      assert.equal(claims.sub, user.id);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, 'erin@acme.test');
      assert.equal(info.name, 'Erin');
      // Erin is a member: /admin refuses her, though she is signed in at the tenant.
      const refused = await erinPage.goto(`${acme.issuer}/admin`);
      assert.equal(refused?.status(), 403, 'her tenant session signs her in to the console, which refuses her /admin');
      assert.equal(new URL(erinPage.url()).pathname, '/admin');
    } finally {
      await erinContext.close();
    }
  });

  it('refuses /admin to a member', async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const { context, page } = await newPhonePage();
    try {
      await page.goto(`${acme.issuer}/admin/users`);
      assert.equal(await signIn(page, member.email, member.password), 403);
      assert.equal(new URL(page.url()).pathname, '/admin/users', 'brought back to the page asked for, and refused');
      assert.equal((await page.reload())?.status(), 403);
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Something went wrong');
      assert.match((await page.locator('main').textContent()) ?? '', /You do not have access to this page\./);
      assert.equal(await page.locator('a[href="/admin"]').count(), 0);
      assert.equal(await page.getByText('member@acme.test').count(), 0, 'nothing of /admin is shown');
      await assertPhoneFriendly(page);
    } finally {
      await context.close();
    }
  });
});
