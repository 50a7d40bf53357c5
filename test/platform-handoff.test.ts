/**
 * A platform admin opening a tenant's /admin from /platform (the hand-off), driven over
 * HTTP with a cookie jar per browser (and once in Chromium): the hand-off works only in the browser that asked
 * for it, its one use survives a sign-out, and entering is audited in the tenant and on
 * the platform, as the platform admin.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { chromiumMissing, launchChromium } from './support/browser.ts';

const ADMIN = { email: 'root@handoff.test', password: 'handoff-root-correct-horse' };
const ADMIN_BUTTON = 'Open its administration';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let adminId: string;
let admin: { browser: TestBrowser; csrf: string };

before(async () => {
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password });
  [acme, globex] = await Promise.all([createTenantFixture(t, 'acme'), createTenantFixture(t, 'globex')]);
  adminId = (await t.api('GET', '/tenants/_platforms/users?search=root%40')).body.users[0].id;
  const signedIn = await signInToConsole(t.baseUrl, ADMIN, '/platform');
  assert.equal(signedIn.url.pathname, '/platform');
  admin = { browser: signedIn.browser, csrf: hiddenInput(signedIn.html, 'csrf') };
});
after(() => t?.stop());

const isRedeem = (u: URL) => u.pathname === '/account/handoff';

/** Asks /platform to open `slug`'s /admin and follows the redirects up to (not into) the tenant's redeeming request. */
async function handOffUpToRedeem(slug: string): Promise<URL> {
  const res = await admin.browser.postForm(`${t.baseUrl}/platform/tenants/${slug}/admin`, { csrf: admin.csrf });
  assert.equal(res.status, 303);
  const location = new URL(res.headers.get('location')!, t.baseUrl);
  if (isRedeem(location)) return location;
  const step = await admin.browser.follow(location, isRedeem);
  assert.ok(isRedeem(step.url), `the hand-off ends at ${step.url.href} (${step.res.status})`);
  return step.url;
}

async function auditOf(slug: string, action: string): Promise<any[]> {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

async function signOut(browser: TestBrowser, origin: string): Promise<void> {
  const page = await browser.request(`${origin}/admin`);
  const csrf = hiddenInput(await page.text(), 'csrf');
  const out = await browser.postForm(`${origin}/account/logout`, { csrf });
  assert.equal(out.status, 303);
  await out.body?.cancel();
}

describe('platform hand-off', () => {
  it('works only in the browser that asked for it: another browser opening the link gets nothing', async () => {
    const redeem = await handOffUpToRedeem('acme');
    assert.equal(redeem.origin, acme.issuer);

    const thief = new TestBrowser();
    const stolen = await thief.request(redeem);
    assert.equal(stolen.status, 400, 'refused in another browser');
    await stolen.body?.cancel();
    assert.equal(thief.jar.get(redeem.host)?.size ?? 0, 0, 'no cookie given to the other browser');
    const probe = await thief.request(`${acme.issuer}/admin`);
    assert.equal(probe.status, 302, 'the other browser has no /admin');
    assert.match(probe.headers.get('location') ?? '', /^\/account\/login/);
    assert.equal((await auditOf('acme', 'console.platform_admin_refused'))[0]?.details?.reason, 'other_browser');

    // The thief's attempt did not spend it: the admin's own browser still enters.
    const entered = await admin.browser.follow(redeem);
    assert.equal(entered.url.href, `${acme.issuer}/admin`);
    assert.equal(entered.res.status, 200);
    assert.match(await entered.res.text(), /Platform administrator root@handoff\.test/);
    await signOut(admin.browser, acme.issuer);
  });

  it('works once, even after the session it made has signed out', async () => {
    const redeem = await handOffUpToRedeem('acme');
    // Whatever binds the link to this browser, kept as it was when the link was opened.
    const jarBefore = new Map(admin.browser.jar.get(redeem.host) ?? []);
    const entered = await admin.browser.follow(redeem);
    assert.equal(entered.url.pathname, '/admin');
    await entered.res.body?.cancel();
    await signOut(admin.browser, acme.issuer);
    assert.notEqual((await admin.browser.request(`${acme.issuer}/admin`)).status, 200, 'signed out');

    admin.browser.jar.set(redeem.host, new Map(jarBefore));
    const replay = await admin.browser.request(redeem);
    assert.equal(replay.status, 400, 'the used link is refused after the sign-out');
    await replay.body?.cancel();
    assert.equal((await auditOf('acme', 'console.platform_admin_refused'))[0]?.details?.reason, 'already_used', 'refused for its nonce, not its binding');
    assert.notEqual((await admin.browser.request(`${acme.issuer}/admin`)).status, 200);
  });

  it('is bound to its tenant', async () => {
    const redeem = await handOffUpToRedeem('acme');
    const elsewhere = new URL(redeem.pathname + redeem.search, globex.issuer);
    admin.browser.jar.set(elsewhere.host, new Map(admin.browser.jar.get(redeem.host) ?? []));
    const res = await admin.browser.request(elsewhere);
    assert.equal(res.status, 400);
    await res.body?.cancel();
    assert.equal((await admin.browser.follow(redeem)).url.pathname, '/admin', 'still good where it belongs');
  });

  it('is audited in the tenant and on the platform as the platform admin acting in that tenant', async () => {
    const before = (await auditOf('_platforms', 'console.platform_admin_entered')).length;
    const redeem = await handOffUpToRedeem('globex');
    assert.equal((await admin.browser.follow(redeem)).url.href, `${globex.issuer}/admin`);

    const inTenant = (await auditOf('globex', 'console.platform_admin_entered'))[0];
    assert.equal(inTenant?.actor, `platform:${adminId}`);
    assert.equal(inTenant?.details?.email, ADMIN.email);
    const onPlatform = await auditOf('_platforms', 'console.platform_admin_entered');
    assert.equal(onPlatform.length, before + 1, 'one event on the platform');
    assert.equal(onPlatform[0].actor, `platform:${adminId}`);
    assert.equal(onPlatform[0].details?.tenant, 'globex');

    await signOut(admin.browser, globex.issuer);
    assert.equal((await auditOf('globex', 'console.sign_out'))[0]?.actor, `platform:${adminId}`);
    assert.equal((await auditOf('_platforms', 'console.platform_admin_signed_out'))[0]?.details?.tenant, 'globex');
  });
});

describe('platform hand-off in Chromium', { skip: chromiumMissing() }, () => {
  it('opens the tenant /admin in the browser that asked; the same link in another browser context is refused', async () => {
    const chromium = await launchChromium();
    try {
      const own = await chromium.newContext();
      const page = await own.newPage();
      const redeems: string[] = [];
      page.on('request', (req) => {
        if (new URL(req.url()).pathname === '/account/handoff') redeems.push(req.url());
      });
      await page.goto(`${t.baseUrl}/platform/tenants/acme`);
      await page.getByLabel('Email').fill(ADMIN.email);
      await page.getByLabel('Password').fill(ADMIN.password);
      await Promise.all([page.waitForURL((u) => u.pathname === '/platform/tenants/acme'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      await Promise.all([page.waitForURL(`${acme.issuer}/admin`), page.getByRole('button', { name: ADMIN_BUTTON }).click()]);
      assert.match(await page.content(), /Platform administrator root@handoff\.test/);
      assert.equal(redeems.length, 1, redeems.join('\n'));

      const other = await chromium.newContext();
      const stolen = await (await other.newPage()).goto(redeems[0]!);
      assert.equal(stolen?.status(), 400, 'another browser gets nothing');
      const probe = await (await other.newPage()).goto(`${acme.issuer}/admin`);
      assert.doesNotMatch(await probe!.text(), /Platform administrator/);
    } finally {
      await chromium.close();
    }
  });
});
