/**
 * Issue 14 acceptance, end to end: tenant "acme" of one Atrium (B) federates to tenant "idp"
 * of another (A), as the federation tests do. A user signs in at acme's relying party through
 * idp; the relying party (openid-client) starts RP-initiated logout at acme; the browser goes
 * to idp's end_session with the upstream ID token as id_token_hint and acme's return route as
 * post_logout_redirect_uri; idp signs the user out and sends them back; acme completes the
 * relying party's post_logout_redirect_uri with its state. Afterwards `prompt=none` at idp
 * (and at acme) answers `login_required`. An admin revoke at idp reaches acme by back-channel
 * logout (idp as OP, acme's per-connection endpoint as RP) and ends the acme session. The
 * account page's sign-out doors (POST /account/logout, "Sign out" on its current sign-in,
 * "Sign out everywhere") go through idp the same way, to acme's signed-out page. Driven once with a cookie-carrying HTTP client and
 * once in Chromium (screenshots in a temp directory, named in the test's output).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { authorizationRequest, confirmSignOut, finishDownstream, redeem, signInAtAtriumUpstream, silentAuthorization, startAtUpstream } from './support/federation-flow.ts';
import { chromiumMissing, startBrowserRelyingParty, type startCallbackServer } from './support/browser.ts';

const PASSWORD = 'upstream-correct-horse-battery';
const RP_LOGGED_OUT = 'https://rp.example.test/logged-out';
const SKIP_BROWSER = chromiumMissing();

let down: TestAtrium; // B: its tenant acme federates
let up: TestAtrium; // A: its tenant idp is acme's upstream
let acme: TenantFixture;
let idp: TenantFixture;
let browserRp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let browserClient: { clientId: string; clientSecret: string };
let chromium: Browser | undefined;
const upstreamUserIds = new Map<string, string>();

before(async () => {
  down = await startTestAtrium();
  // idp's logout tokens go to a tenant-registered URI, through the strict egress guard
  // (no loopback, even in development): the operator allows acme's host by name.
  up = await startTestAtrium({ EGRESS_ALLOW: 'acme.localhost' });
  acme = await createTenantFixture(down, 'acme');
  idp = await createTenantFixture(up, 'idp');
  for (const email of ['alice@corp.test', 'carol@corp.test', 'dave@corp.test', 'erin@corp.test', 'frank@corp.test', 'gina@corp.test']) {
    const created = await up.api('POST', '/tenants/idp/users', { email, password: PASSWORD, name: email, email_verified: true });
    assert.equal(created.status, 201);
    upstreamUserIds.set(email, created.body.id);
  }
  const client = await up.api('POST', '/tenants/idp/clients', {
    client_name: 'Acme at Atrium B',
    redirect_uris: [`${down.issuer('acme')}/federation/callback`],
    post_logout_redirect_uris: [`${down.issuer('acme')}/federation/corp/signed-out`],
    // idp tells acme when a session there ends (Back-Channel Logout 1.0, idp as OP, acme as RP).
    backchannel_logout_uri: `${down.issuer('acme')}/federation/corp/backchannel-logout`,
    backchannel_logout_session_required: true,
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  // No end_session_endpoint given: it comes from idp's discovery document.
  const connection = await down.api('PUT', '/tenants/acme/federation/corp', {
    provider: 'generic_oidc', display_name: 'Corp SSO', issuer: up.issuer('idp'), client_id: client.body.client_id, client_secret: client.body.client_secret, allowed_domains: ['corp.test'],
  });
  assert.equal(connection.status, 201, JSON.stringify(connection.body));
  assert.equal(connection.body.end_session_endpoint ?? null, null, 'nothing configured: discovery decides');
  if (!SKIP_BROWSER) {
    ({ server: browserRp, client: browserClient, chromium } = await startBrowserRelyingParty(down, 'acme'));
  }
});
after(async () => {
  await chromium?.close();
  await browserRp?.close();
  await up?.stop();
  await down?.stop();
});

describe('sign-out at B ends the session at A and returns to the relying party (HTTP client)', () => {
  it('goes through idp end_session with the hint and comes back with the RP state; then prompt=none at idp gives login_required', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const upstreamUrl = await startAtUpstream(browser, request, 'corp');
    const callback = await signInAtAtriumUpstream(browser, upstreamUrl, { email: 'alice@corp.test', password: PASSWORD }, down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    const tokens = await oidc.authorizationCodeGrant(request.config, done.redirect, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });

    // Before: the browser is signed in at idp (a silent request there is not refused for want of a sign-in).
    assert.notEqual(await silentAuthorization(browser, idp.issuer, idp), 'login_required', 'signed in at idp before the sign-out');

    // The RP's logout request, built by openid-client from acme's discovery document.
    const endSession = oidc.buildEndSessionUrl(request.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT, state: 'rp-state-b-to-a' });

    // To idp's end_session, in its discovery's shape.
    const toIdp = await confirmSignOut(browser, acme.issuer, endSession);
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, `${idp.issuer}/session/end`);
    assert.equal(toIdp.searchParams.get('post_logout_redirect_uri'), `${acme.issuer}/federation/corp/signed-out`);
    const hint = toIdp.searchParams.get('id_token_hint');
    assert.ok(hint, 'the upstream ID token is the hint');
    const hinted = JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()) as { iss: string; email?: string };
    assert.equal(hinted.iss, idp.issuer, "the hint is idp's own ID token");
    assert.equal(toIdp.searchParams.get('state'), null, "the RP's state stays at acme");

    // idp's confirmation page, then back to acme's return route.
    const idpPage = await browser.follow(toIdp);
    const idpHtml = await idpPage.res.text();
    assert.equal(idpPage.res.status, 200, idpHtml.slice(0, 300));
    assert.equal(idpPage.url.origin, idp.issuer);
    const idpConfirmed = await browser.postForm(`${idp.issuer}/session/end/confirm`, { xsrf: hiddenInput(idpHtml, 'xsrf'), logout: 'yes' });
    assert.equal(idpConfirmed.status, 303);
    const backAtAcme = new URL(idpConfirmed.headers.get('location')!);
    assert.equal(backAtAcme.href, `${acme.issuer}/federation/corp/signed-out`);

    // acme completes the RP's post_logout_redirect_uri with its state.
    const final = await browser.request(backAtAcme);
    assert.equal(final.status, 303);
    const atRp = new URL(final.headers.get('location')!);
    assert.equal(`${atRp.origin}${atRp.pathname}`, RP_LOGGED_OUT);
    assert.equal(atRp.searchParams.get('state'), 'rp-state-b-to-a');

    // Signed out at both.
    assert.equal(await silentAuthorization(browser, idp.issuer, idp), 'login_required', 'prompt=none at idp after the sign-out');
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'prompt=none at acme after the sign-out');
    const upAudit = await up.api('GET', '/tenants/idp/audit?action=user.sign_out&limit=20');
    assert.ok(upAudit.body.events.length >= 1, 'idp recorded the sign-out');
    const returned = await down.api('GET', '/tenants/acme/audit?action=federation.sign_out_returned&limit=20');
    assert.ok(returned.body.events.some((e: { outcome: string; details: { upstream: string } }) => e.outcome === 'success' && e.details.upstream === 'signed_out'));
  });

  /**
   * Signs `email` in at acme's relying party through idp, opens /account in the same browser
   * (its sign-in reused), signs out there by `door`, and follows the way out: idp's
   * end_session with the hint, idp's confirmation, acme's return route, acme's signed-out page.
   */
  async function signOutOnAccountPage(email: string, door: (browser: TestBrowser, html: string) => Promise<Response>): Promise<TestBrowser> {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const callback = await signInAtAtriumUpstream(browser, await startAtUpstream(browser, request, 'corp'), { email, password: PASSWORD }, down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    await redeem(request, done.redirect);
    assert.notEqual(await silentAuthorization(browser, idp.issuer, idp), 'login_required', 'signed in at idp before the sign-out');

    const opened = await browser.follow(`${acme.issuer}/account`);
    let html = await opened.res.text();
    if (opened.url.pathname.startsWith('/interaction/') && html.includes('/confirm')) {
      const allowed = await browser.postForm(`${opened.url.href.replace(/\/$/, '')}/confirm`, { csrf: hiddenInput(html, 'csrf') });
      html = await (await browser.follow(new URL(allowed.headers.get('location')!, opened.url))).res.text();
    }
    assert.doesNotMatch(html, /name="password"/, 'the account page opened from the existing sign-in');
    const out = await door(browser, html);
    assert.equal(out.status, 303);

    // To idp's end_session, built as for RP-initiated logout.
    const toIdp = new URL(out.headers.get('location')!);
    assert.equal(`${toIdp.origin}${toIdp.pathname}`, `${idp.issuer}/session/end`);
    assert.equal(toIdp.searchParams.get('post_logout_redirect_uri'), `${acme.issuer}/federation/corp/signed-out`);
    const hint = toIdp.searchParams.get('id_token_hint');
    assert.ok(hint, 'the upstream ID token is the hint');
    const hinted = JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()) as { iss: string; sub: string };
    assert.equal(hinted.iss, idp.issuer, "the hint is idp's own ID token");
    assert.equal(hinted.sub, upstreamUserIds.get(email), "the hint names the user's idp account");

    const idpPage = await browser.follow(toIdp);
    const idpHtml = await idpPage.res.text();
    assert.equal(idpPage.res.status, 200, idpHtml.slice(0, 300));
    const idpConfirmed = await browser.postForm(`${idp.issuer}/session/end/confirm`, { xsrf: hiddenInput(idpHtml, 'xsrf'), logout: 'yes' });
    assert.equal(idpConfirmed.status, 303);
    const backAtAcme = new URL(idpConfirmed.headers.get('location')!);
    assert.equal(backAtAcme.href, `${acme.issuer}/federation/corp/signed-out`);
    const final = await browser.request(backAtAcme);
    assert.equal(final.status, 303);
    assert.equal(final.headers.get('location'), `${acme.issuer}/account/signed-out`, "back to acme's signed-out page");
    assert.equal((await browser.request(`${acme.issuer}/account/signed-out`)).status, 200);

    assert.equal(await silentAuthorization(browser, idp.issuer, idp), 'login_required', 'prompt=none at idp after the sign-out');
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'prompt=none at acme after the sign-out');
    return browser;
  }

  it('signing out on /account (POST /account/logout) goes through idp end_session with the hint, then to the signed-out page; prompt=none at idp then gives login_required', async () => {
    await signOutOnAccountPage('erin@corp.test', (browser, html) => browser.postForm(`${acme.issuer}/account/logout`, { csrf: hiddenInput(html, 'csrf') }));
  });

  it("signing out the current sign-in from /account's session list goes the same way through idp", async () => {
    await signOutOnAccountPage('frank@corp.test', (browser, html) => {
      const current = /name="session" value="(signin:[^"]+)"/.exec(html)?.[1];
      assert.ok(current, 'the session list shows the sign-in');
      return browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: hiddenInput(html, 'csrf'), session: current });
    });
  });

  it('"Sign out everywhere" on /account goes through idp for this browser, and ends the user\'s other acme sign-ins too', async () => {
    // gina's other sign-in at acme, in another browser (through idp too).
    const other = new TestBrowser();
    const request = await authorizationRequest(acme);
    const done = await finishDownstream(other, await signInAtAtriumUpstream(other, await startAtUpstream(other, request, 'corp'), { email: 'gina@corp.test', password: PASSWORD }, down.port));
    assert.ok(done.redirect, `the other sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    assert.notEqual(await silentAuthorization(other, acme.issuer, acme), 'login_required', 'the other browser is signed in at acme');
    await signOutOnAccountPage('gina@corp.test', (browser, html) => browser.postForm(`${acme.issuer}/account/sessions/revoke-all`, { csrf: hiddenInput(html, 'csrf') }));
    assert.equal(await silentAuthorization(other, acme.issuer, acme), 'login_required', "the other browser's acme sign-in ended too");
  });

  it('a session that did not come from idp signs out at acme only', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const { signInThroughPages } = await import('./support/fixtures.ts');
    const { callback } = await signInThroughPages(request.authUrl, acme, browser);
    const claims = await redeem(request, callback);
    assert.equal(claims.sub, acme.userId);
    const endSession = new URL(`${acme.issuer}/session/end`);
    endSession.search = new URLSearchParams({ client_id: acme.clientId, post_logout_redirect_uri: RP_LOGGED_OUT, state: 's' }).toString();
    const html = await (await browser.follow(endSession)).res.text();
    const confirmed = await browser.postForm(`${acme.issuer}/session/end/confirm`, { xsrf: hiddenInput(html, 'xsrf'), logout: 'yes' });
    assert.equal(confirmed.status, 303);
    const next = new URL(confirmed.headers.get('location')!);
    assert.equal(`${next.origin}${next.pathname}`, RP_LOGGED_OUT, 'straight back to the RP, no upstream on the way');
  });
});

describe('back-channel logout from A ends the session at B', () => {
  it("an admin revoke at idp sends a logout token to acme's connection endpoint, which ends the acme session", async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const callback = await signInAtAtriumUpstream(browser, await startAtUpstream(browser, request, 'corp'), { email: 'dave@corp.test', password: PASSWORD }, down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    await redeem(request, done.redirect);
    assert.notEqual(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'signed in at acme before');

    const revoked = await up.api('POST', `/tenants/idp/users/${upstreamUserIds.get('dave@corp.test')}/sessions/revoke`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    // idp sends once its revoke committed; acme ends the session it names.
    const deadline = Date.now() + 5_000;
    let ended: { outcome: string; details: Record<string, unknown> } | undefined;
    while (!ended && Date.now() < deadline) {
      const events = (await down.api('GET', '/tenants/acme/audit?action=federation.backchannel_logout&limit=50')).body.events as { outcome: string; details: Record<string, unknown> }[];
      ended = events.find((e) => e.outcome === 'success' && Number(e.details.sessions_ended) === 1);
      if (!ended) await new Promise((r) => setTimeout(r, 100));
    }
    const seenAtAcme = (await down.api('GET', '/tenants/acme/audit?action=federation.backchannel_logout&limit=50')).body.events;
    const seenAtIdp = (await up.api('GET', '/tenants/idp/audit?action=oidc.backchannel_logout&limit=50')).body.events;
    assert.ok(ended, `acme accepted the logout token and ended one session: acme ${JSON.stringify(seenAtAcme)}; idp ${JSON.stringify(seenAtIdp)}`);
    const sent = await up.api('GET', '/tenants/idp/audit?action=oidc.backchannel_logout&limit=50');
    assert.ok(sent.body.events.some((e: { outcome: string; details: { path: string } }) => e.outcome === 'success' && e.details.path === 'session_revoked'), 'idp recorded the delivery');
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'prompt=none at acme after the upstream ended the session');
  });
});

describe('the same path in Chromium', () => {
  it('signs in through idp, signs out at acme, passes through idp and lands at the RP with its state; idp then needs a sign-in', async (ctx) => {
    if (SKIP_BROWSER) return ctx.skip(SKIP_BROWSER);
    const shots = mkdtempSync(path.join(tmpdir(), 'atrium-federated-logout-'));
    ctx.diagnostic(`screenshots: ${shots}`);
    const context = await chromium!.newContext({ viewport: { width: 800, height: 700 } });
    try {
      const page = await context.newPage();
      const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      const request = await clientAuthorizationRequest(acme.issuer, browserClient, { redirect_uri: browserRp!.redirectUri, scope: 'openid email profile' });
      await page.goto(request.url.href);
      await shot('1-acme-login');
      await page.getByRole('button', { name: 'Continue with Corp SSO' }).click();
      await page.waitForURL((u) => u.origin === idp.issuer && u.pathname.startsWith('/interaction/'));
      await page.getByLabel('Email').fill('carol@corp.test');
      await page.getByLabel('Password').fill(PASSWORD);
      await shot('2-idp-login');
      await Promise.all([page.waitForURL((u) => !u.pathname.endsWith('/login') && u.pathname.startsWith('/interaction/')), page.getByRole('button', { name: 'Sign in' }).click()]);
      await Promise.all([page.waitForURL((u) => u.origin === acme.issuer), page.getByRole('button', { name: 'Allow' }).click()]);
      await page.waitForURL((u) => u.origin === acme.issuer && u.pathname.startsWith('/interaction/'));
      await Promise.all([page.waitForURL((u) => u.href.startsWith(browserRp!.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
      const tokens = await oidc.authorizationCodeGrant(request.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      await shot('3-at-rp-signed-in');

      const loggedOut = browserRp!.redirectUri.replace('/callback', '/logged-out');
      await page.goto(oidc.buildEndSessionUrl(request.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: loggedOut, state: 'chromium-state' }).href);
      assert.equal(new URL(page.url()).origin, acme.issuer);
      await shot('4-acme-sign-out-question');
      await Promise.all([page.waitForURL((u) => u.origin === idp.issuer && u.pathname === '/session/end'), page.locator('button[name="logout"][value="yes"]').click()]);
      const atIdp = new URL(page.url());
      assert.ok(atIdp.searchParams.get('id_token_hint'));
      assert.equal(atIdp.searchParams.get('post_logout_redirect_uri'), `${acme.issuer}/federation/corp/signed-out`);
      await shot('5-idp-sign-out-question');
      await Promise.all([page.waitForURL((u) => u.href.startsWith(loggedOut)), page.locator('button[name="logout"][value="yes"]').click()]);
      const atRp = new URL(page.url());
      assert.equal(atRp.searchParams.get('state'), 'chromium-state');
      assert.ok(browserRp!.hits.some((h) => h.pathname === '/logged-out' && h.searchParams.get('state') === 'chromium-state'), 'the RP received its state');
      await shot('6-back-at-rp');

      // prompt=none at idp in the same browser: login_required.
      const silent = await clientAuthorizationRequest(idp.issuer, idp, { prompt: 'none' });
      const answers: string[] = [];
      page.on('request', (r) => answers.push(r.url()));
      await page.goto(silent.url.href).catch(() => undefined); // ends at rp.example.test, which does not resolve
      const toClient = answers.map((u) => new URL(u)).find((u) => u.href.startsWith(REDIRECT_URI));
      assert.equal(toClient?.searchParams.get('error'), 'login_required', answers.join('\n'));
    } finally {
      await context.close();
    }
  });
});
