/**
 * Issue 14 acceptance, end to end, against a second, independent upstream: a bare
 * oidc-provider 9 on loopback with `features.rpInitiatedLogout` and `features.backchannelLogout`
 * (test/support/plain-oidc-provider.ts), which tenant acme (B) federates to. Modelled on
 * federated-logout-atrium.test.ts (where the upstream is another Atrium):
 *   - RP-initiated logout at acme sends the browser to the bare provider's end_session with
 *     the upstream ID token as id_token_hint and acme's return route, comes back, and acme
 *     completes the relying party's post_logout_redirect_uri with its state; afterwards
 *     prompt=none at the bare provider answers login_required. Driven with openid-client and
 *     a cookie-carrying HTTP client, and once in Chromium.
 *   - The user signs out at the bare provider itself: oidc-provider's own back-channel logout
 *     delivers a logout token to acme's per-connection endpoint, and the acme session ends
 *     (prompt=none at acme: login_required; the API's session list: empty).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { authorizationRequest, confirmSignOut, finishDownstream, signInAtPlainUpstream, silentAuthorization, startAtUpstream } from './support/federation-flow.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import { chromiumMissing, startBrowserRelyingParty, type startCallbackServer } from './support/browser.ts';

const RP_LOGGED_OUT = 'https://rp.example.test/logged-out';
const SKIP_BROWSER = chromiumMissing();
const ACCOUNTS = ['hana', 'ivan', 'jade'] as const;

let down: TestAtrium;
let acme: TenantFixture;
let bare: PlainProvider;
let browserRp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let browserClient: { clientId: string; clientSecret: string };
let chromium: Browser | undefined;

before(async () => {
  down = await startTestAtrium();
  acme = await createTenantFixture(down, 'acme');
  bare = await startPlainProvider({
    redirectUris: [`${down.issuer('acme')}/federation/callback`],
    postLogoutRedirectUris: [`${down.issuer('acme')}/federation/bare/signed-out`],
    // The bare provider tells acme when a session there ends (Back-Channel Logout 1.0, sid required).
    backchannelLogoutUri: `${down.issuer('acme')}/federation/bare/backchannel-logout`,
    accounts: Object.fromEntries(ACCOUNTS.map((a) => [`bare-${a}`, { email: `${a}@bare.test`, email_verified: true, name: a }])),
  });
  // Nothing but discovery: the end_session_endpoint is the bare provider's own.
  const connection = await down.api('PUT', '/tenants/acme/federation/bare', { provider: 'generic_oidc', display_name: 'Bare IdP', discovery_endpoint: `${bare.issuer}/.well-known/openid-configuration`, client_id: bare.clientId, client_secret: bare.clientSecret });
  assert.equal(connection.status, 201, JSON.stringify(connection.body));
  if (!SKIP_BROWSER) {
    ({ server: browserRp, client: browserClient, chromium } = await startBrowserRelyingParty(down, 'acme'));
  }
});
after(async () => {
  await chromium?.close();
  await browserRp?.close();
  await bare?.close();
  await down?.stop();
});

/** `prompt=none` at the bare provider for acme's client there, in `browser`: the error it answers acme's callback with (null: a code). */
async function silentAtBare(browser: TestBrowser): Promise<string | null> {
  const url = new URL(`${bare.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: bare.clientId, redirect_uri: `${acme.issuer}/federation/callback`, response_type: 'code', scope: 'openid', prompt: 'none', state: 'probe', nonce: 'probe' }).toString();
  const atAcme = (u: URL) => u.href.startsWith(`${acme.issuer}/federation/callback`);
  const answer = await browser.follow(url, atAcme);
  assert.ok(atAcme(answer.url), `prompt=none at the bare provider ends at acme's callback: ${answer.url.href}`);
  return answer.url.searchParams.get('error') ?? (answer.url.searchParams.get('code') ? null : 'no code');
}

/** Signs `account` in at acme's RP through the bare provider; answers the browser, the downstream request and its tokens. */
async function signIn(account: (typeof ACCOUNTS)[number]) {
  const browser = new TestBrowser();
  const request = await authorizationRequest(acme);
  const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, 'bare'), `${account}@bare.test`, down.port);
  const done = await finishDownstream(browser, callback);
  assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(request.config, done.redirect, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return { browser, request, tokens, userId: tokens.claims()!.sub };
}

describe('sign-out at acme goes through the bare provider (openid-client, HTTP client)', () => {
  it("goes to the bare provider's end_session with the hint and acme's return route, back to the RP with its state; prompt=none there then gives login_required", async () => {
    const { browser, request, tokens } = await signIn('hana');
    assert.equal(await silentAtBare(browser), null, 'signed in at the bare provider before the sign-out');

    const endSession = oidc.buildEndSessionUrl(request.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: RP_LOGGED_OUT, state: 'rp-state-bare' });

    // To the bare provider's end_session (from its discovery document), with the hint and acme's return route.
    const toBare = await confirmSignOut(browser, acme.issuer, endSession);
    assert.equal(`${toBare.origin}${toBare.pathname}`, `${bare.issuer}/session/end`);
    assert.equal(toBare.searchParams.get('post_logout_redirect_uri'), `${acme.issuer}/federation/bare/signed-out`);
    const hint = toBare.searchParams.get('id_token_hint');
    assert.ok(hint, 'the upstream ID token is the hint');
    const hinted = JSON.parse(Buffer.from(hint.split('.')[1]!, 'base64url').toString()) as { iss: string; sub: string; aud: string };
    assert.deepEqual([hinted.iss, hinted.sub, hinted.aud], [bare.issuer, 'bare-hana', bare.clientId], "the hint is the bare provider's own ID token for acme's client");
    assert.equal(toBare.searchParams.get('state'), null, "the RP's state stays at acme");

    // oidc-provider's own sign-out question, then back to acme's return route.
    const barePage = await browser.follow(toBare);
    const bareHtml = await barePage.res.text();
    assert.equal(barePage.res.status, 200, bareHtml.slice(0, 300));
    const bareConfirmed = await browser.postForm(`${bare.issuer}/session/end/confirm`, { xsrf: hiddenInput(bareHtml, 'xsrf'), logout: 'yes' });
    assert.equal(bareConfirmed.status, 303);
    const backAtAcme = new URL(bareConfirmed.headers.get('location')!);
    assert.equal(backAtAcme.href, `${acme.issuer}/federation/bare/signed-out`);

    const final = await browser.request(backAtAcme);
    assert.equal(final.status, 303);
    const atRp = new URL(final.headers.get('location')!);
    assert.equal(`${atRp.origin}${atRp.pathname}`, RP_LOGGED_OUT);
    assert.equal(atRp.searchParams.get('state'), 'rp-state-bare');

    assert.equal(await silentAtBare(browser), 'login_required', 'prompt=none at the bare provider after the sign-out');
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'prompt=none at acme after the sign-out');
    const returned = (await down.api('GET', '/tenants/acme/audit?action=federation.sign_out_returned&limit=20')).body.events as { outcome: string; details: { connection: string; upstream: string } }[];
    assert.ok(returned.some((e) => e.outcome === 'success' && e.details.connection === 'bare' && e.details.upstream === 'signed_out'), JSON.stringify(returned));
  });
});

describe("the bare provider's back-channel logout ends the acme session", () => {
  it("signing out at the bare provider itself sends its logout token to acme's connection endpoint, which ends the acme session", async () => {
    const { browser, userId } = await signIn('ivan');
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), null, 'signed in at acme before');
    const sessions = async () => (await down.api('GET', `/tenants/acme/users/${userId}/sessions`)).body.data as unknown[];
    assert.equal((await sessions()).length, 1);

    // The user signs out at the upstream directly (its own end_session, no client named):
    // oidc-provider ends its session and POSTs a logout token to every client of that session.
    const page = await browser.follow(`${bare.issuer}/session/end`);
    const html = await page.res.text();
    assert.equal(page.res.status, 200, html.slice(0, 300));
    const confirmed = await browser.postForm(`${bare.issuer}/session/end/confirm`, { xsrf: hiddenInput(html, 'xsrf'), logout: 'yes' });
    assert.ok([200, 303].includes(confirmed.status), `the bare provider's sign-out: ${confirmed.status}`);

    const deadline = Date.now() + 5_000;
    let ended: { details: Record<string, unknown> } | undefined;
    while (!ended && Date.now() < deadline) {
      const events = (await down.api('GET', '/tenants/acme/audit?action=federation.backchannel_logout&limit=50')).body.events as { outcome: string; details: Record<string, unknown> }[];
      ended = events.find((e) => e.outcome === 'success' && e.details.upstream_sub === 'bare-ivan' && Number(e.details.sessions_ended) === 1);
      if (!ended) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ended, 'acme accepted the logout token and ended one session');
    assert.ok(ended.details.upstream_sid, "the token named the bare provider's session (sid)");
    assert.equal(await silentAuthorization(browser, acme.issuer, acme), 'login_required', 'prompt=none at acme after the upstream ended the session');
    assert.equal((await sessions()).length, 0, 'no session in the API list');
  });
});

describe('the same sign-out in Chromium', () => {
  it('signs in through the bare provider, signs out at acme, passes through its end_session and lands at the RP with its state; the bare provider then needs a sign-in', async (ctx) => {
    if (SKIP_BROWSER) return ctx.skip(SKIP_BROWSER);
    const shots = mkdtempSync(path.join(tmpdir(), 'atrium-federated-logout-bare-'));
    ctx.diagnostic(`screenshots: ${shots}`);
    const context = await chromium!.newContext({ viewport: { width: 800, height: 700 } });
    try {
      const page = await context.newPage();
      const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
      const request = await clientAuthorizationRequest(acme.issuer, browserClient, { redirect_uri: browserRp!.redirectUri, scope: 'openid email profile' });
      await page.goto(request.url.href);
      await shot('1-acme-login');
      await page.getByRole('button', { name: 'Continue with Bare IdP' }).click();
      await page.waitForURL((u) => u.origin === new URL(bare.issuer).origin && u.pathname.startsWith('/interaction/'));
      await page.getByLabel('Email').fill('jade@bare.test');
      await shot('2-bare-login');
      await Promise.all([page.waitForURL((u) => u.origin === acme.issuer), page.getByRole('button', { name: 'Sign in at Plain IdP' }).click()]);
      await page.waitForURL((u) => u.href.startsWith(browserRp!.redirectUri) || (u.origin === acme.issuer && u.pathname.startsWith('/interaction/')));
      if (!page.url().startsWith(browserRp!.redirectUri)) {
        await Promise.all([page.waitForURL((u) => u.href.startsWith(browserRp!.redirectUri)), page.getByRole('button', { name: 'Allow' }).click()]);
      }
      const tokens = await oidc.authorizationCodeGrant(request.config, new URL(page.url()), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      await shot('3-at-rp-signed-in');

      const loggedOut = browserRp!.redirectUri.replace('/callback', '/logged-out');
      await page.goto(oidc.buildEndSessionUrl(request.config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: loggedOut, state: 'chromium-bare-state' }).href);
      assert.equal(new URL(page.url()).origin, acme.issuer);
      await shot('4-acme-sign-out-question');
      await Promise.all([page.waitForURL((u) => u.origin === new URL(bare.issuer).origin && u.pathname === '/session/end'), page.locator('button[name="logout"][value="yes"]').click()]);
      const atBare = new URL(page.url());
      assert.ok(atBare.searchParams.get('id_token_hint'));
      assert.equal(atBare.searchParams.get('post_logout_redirect_uri'), `${acme.issuer}/federation/bare/signed-out`);
      await shot('5-bare-sign-out-question');
      await Promise.all([page.waitForURL((u) => u.href.startsWith(loggedOut)), page.locator('button[name="logout"][value="yes"]').click()]);
      assert.equal(new URL(page.url()).searchParams.get('state'), 'chromium-bare-state');
      assert.ok(browserRp!.hits.some((h) => h.pathname === '/logged-out' && h.searchParams.get('state') === 'chromium-bare-state'), 'the RP received its state');
      await shot('6-back-at-rp');

      // prompt=none at the bare provider in the same browser: login_required, sent to acme's callback.
      const silent = new URL(`${bare.issuer}/auth`);
      silent.search = new URLSearchParams({ client_id: bare.clientId, redirect_uri: `${acme.issuer}/federation/callback`, response_type: 'code', scope: 'openid', prompt: 'none', state: 'probe', nonce: 'probe' }).toString();
      const seen: string[] = [];
      page.on('request', (r) => seen.push(r.url()));
      await page.goto(silent.href).catch(() => undefined);
      const toAcme = seen.map((u) => new URL(u)).find((u) => u.href.startsWith(`${acme.issuer}/federation/callback`));
      assert.equal(toAcme?.searchParams.get('error'), 'login_required', seen.join('\n'));
    } finally {
      await context.close();
    }
  });
});
