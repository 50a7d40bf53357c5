/**
 * Issue 14, back-channel logout as OP: a relying party that registered
 * `backchannel_logout_uri` (a loopback receiver started here) gets a logout token, signed
 * with the tenant's published keys and shaped as Back-Channel Logout 1.0 says, whichever way
 * the session ends: RP-initiated logout, a revoke on /account, the other sessions ended by
 * a password change on /account, an admin's "sign out everywhere" (API and /admin), a
 * password reset. The token goes only once the session's end is committed: at receipt the
 * session is already gone, and a transaction that ends a session and then rolls back sends
 * nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { JWTPayload } from 'jose';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { createUser, finish, passwordStep } from './support/mfa.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { BACKCHANNEL_EVENT, startLogoutReceiver, verifyLogoutToken, type LogoutReceiver } from './support/logout-receiver.ts';
import { ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import { runAsTenant } from '../src/core/request-context.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let sink: SmtpSink;
let receiver: LogoutReceiver;
let rp: { clientId: string; clientSecret: string };
let acmeId: string;
const RP_PATH = '/rp/backchannel-logout';
const RP_LOGGED_OUT = 'https://rp.example.test/logged-out';
/** What the user's live sign-ins were (by the API) when each logout token arrived, by its sid. */
const liveAtReceipt = new Map<string, string[]>();
const seenJtis = new Set<string>();

before(async () => {
  sink = await SmtpSink.start();
  receiver = await startLogoutReceiver();
  // Logout tokens go to a tenant-registered URI through the strict egress guard (no loopback,
  // even in development): the operator allows the receiver's address, as it would an internal RP.
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test', EGRESS_ALLOW: '127.0.0.1' });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS });
  acmeId = (await t.api('GET', '/tenants/acme')).body.id;
  const client = await t.api('POST', '/tenants/acme/clients', {
    client_name: 'acme rp with back-channel logout',
    redirect_uris: ['https://rp.example.test/callback'],
    post_logout_redirect_uris: [RP_LOGGED_OUT],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    backchannel_logout_uri: receiver.url(RP_PATH),
    backchannel_logout_session_required: true,
  });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  assert.equal(client.body.backchannel_logout_uri, receiver.url(RP_PATH));
  rp = { clientId: client.body.client_id, clientSecret: client.body.client_secret };
});
after(async () => {
  await t?.stop();
  await receiver?.close();
  await sink?.stop();
});

/** The user's live sign-in sessions, as the management API lists them. */
async function liveSignIns(userId: string): Promise<string[]> {
  const res = await t.api('GET', `/tenants/acme/users/${userId}/sessions`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (res.body.data as { id: string; kind: string }[]).filter((s) => s.kind === 'sign_in').map((s) => s.id);
}

/** Signs the user in at the RP in a browser of its own; answers that browser, the ID token's claims and the session's id. */
async function signInAtRp(user: { email: string; password: string; id: string }, browser = new TestBrowser()) {
  const before = new Set(await liveSignIns(user.id));
  const auth = await authorizationRequest(acme.issuer, rp);
  const { tokens, claims } = await finish(browser, auth, await passwordStep(browser, auth, user));
  assert.equal(typeof claims.sid, 'string', 'the ID token carries sid (backchannel_logout_session_required)');
  const made = (await liveSignIns(user.id)).filter((id) => !before.has(id));
  assert.equal(made.length, 1, 'one new sign-in session');
  return { browser, claims, idToken: tokens.id_token!, session: made[0]! };
}

/**
 * Waits for the RP's logout token for `sid`, verifies it with jose against the tenant's
 * JWKS, checks every member the spec asks for, and that the session had already ended at
 * the RP's receipt of it.
 */
async function expectLogoutToken(signIn: { claims: JWTPayload; session: string }, userId: string) {
  const got = await receiver.waitFor(RP_PATH, (c) => c.sid === signIn.claims.sid);
  assert.equal(got.contentType, 'application/x-www-form-urlencoded');
  const { payload, protectedHeader, discovery } = await verifyLogoutToken(got.token, acme.issuer, rp.clientId);
  assert.equal(discovery.backchannel_logout_supported, true);
  assert.equal(protectedHeader.typ, 'logout+jwt');
  assert.equal(payload.iss, acme.issuer);
  assert.equal(payload.aud, rp.clientId);
  assert.equal(payload.sub, signIn.claims.sub);
  assert.equal(payload.sid, signIn.claims.sid);
  assert.deepEqual(payload.events, { [BACKCHANNEL_EVENT]: {} });
  assert.ok(!('nonce' in payload), 'a logout token never carries a nonce');
  assert.ok(typeof payload.iat === 'number' && Math.abs(payload.iat - Date.now() / 1000) < 60, 'iat is now');
  assert.ok(typeof payload.jti === 'string' && payload.jti.length >= 16);
  assert.ok(!seenJtis.has(payload.jti), 'every logout token has its own jti');
  seenJtis.add(payload.jti);
  const live = liveAtReceipt.get(String(payload.sid));
  assert.ok(live, 'the receipt-time snapshot was taken');
  assert.ok(!live.includes(signIn.session), `the session had ended when its logout token arrived (live then: ${live.join(', ')})`);
  assert.ok(userId);
  return payload;
}

// At receipt, before answering, the RP's receiver (this hook) asks which sign-ins are still live.
function snapshotAtReceipt(userId: string) {
  receiver.onToken = async (claims) => {
    liveAtReceipt.set(String(claims.sid), await liveSignIns(userId));
  };
}

describe('logout tokens to a relying party with backchannel_logout_uri', () => {
  it('RP-initiated logout (end_session) sends one, after the session is destroyed, and returns to the RP with its state', async () => {
    const user = await createUser(t, acme, 'rp-initiated');
    const bystander = await signInAtRp(await createUser(t, acme, 'rp-bystander'));
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    const end = new URL(`${acme.issuer}/session/end`);
    end.search = new URLSearchParams({ id_token_hint: signIn.idToken, post_logout_redirect_uri: RP_LOGGED_OUT, state: 'bcl-state' }).toString();
    const page = await signIn.browser.follow(end);
    const html = await page.res.text();
    assert.equal(page.res.status, 200, html.slice(0, 300));
    const confirm = await signIn.browser.postForm(`${acme.issuer}/session/end/confirm`, { xsrf: hiddenInput(html, 'xsrf'), logout: 'yes' });
    assert.equal(confirm.status, 303);
    const back = new URL(confirm.headers.get('location')!);
    assert.equal(`${back.origin}${back.pathname}`, RP_LOGGED_OUT);
    assert.equal(back.searchParams.get('state'), 'bcl-state');
    // Sent before the answer (as oidc-provider does), but after the session was destroyed.
    assert.equal(receiver.matching(RP_PATH, (c) => c.sid === signIn.claims.sid).length, 1, 'delivered by the time the browser is answered');
    await expectLogoutToken(signIn, user.id);
    assert.equal(receiver.matching(RP_PATH, (c) => c.sid === bystander.claims.sid).length, 0, "another user's session is not ended");
    const audit = await t.api('GET', '/tenants/acme/audit?action=oidc.backchannel_logout&limit=50');
    assert.ok(audit.body.events.some((e: { outcome: string; details: { sid: string; path: string } }) => e.outcome === 'success' && e.details.sid === signIn.claims.sid && e.details.path === 'end_session'));
  });

  it('a revoke on /account sends one for the revoked session only', async () => {
    const user = await createUser(t, acme, 'account-revoke');
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const res = await browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: hiddenInput(html, 'csrf'), session: signIn.session });
    assert.equal(res.status, 303);
    await expectLogoutToken(signIn, user.id);
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 200, 'the page that revoked stays signed in');
  });

  it('signing out on /account (POST /account/logout) sends one for the sign-in the page was opened from', async () => {
    const user = await createUser(t, acme, 'account-logout');
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    // The same browser opens /account: its sign-in at the tenant is reused, no password asked.
    const opened = await signIn.browser.follow(`${acme.issuer}/account`);
    let html = await opened.res.text();
    if (opened.url.pathname.startsWith('/interaction/') && html.includes('/confirm')) {
      const allowed = await signIn.browser.postForm(`${opened.url.href.replace(/\/$/, '')}/confirm`, { csrf: hiddenInput(html, 'csrf') });
      html = await (await signIn.browser.follow(new URL(allowed.headers.get('location')!, opened.url))).res.text();
    }
    assert.doesNotMatch(html, /name="password"/, 'the account page opened from the existing sign-in');
    assert.deepEqual(await liveSignIns(user.id), [signIn.session], 'one sign-in: the RP and the account page share it');
    const res = await signIn.browser.postForm(`${acme.issuer}/account/logout`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(res.status, 303);
    await expectLogoutToken(signIn, user.id);
  });

  it('a password change on /account ends the other sessions ("sign out everywhere else") and sends one for each', async () => {
    const user = await createUser(t, acme, 'account-password');
    snapshotAtReceipt(user.id);
    const first = await signInAtRp(user);
    const second = await signInAtRp(user);
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const res = await browser.postForm(`${acme.issuer}/account/password`, { csrf: hiddenInput(html, 'csrf'), current_password: user.password, new_password: 'a-new-long-password-1', confirm_password: 'a-new-long-password-1' });
    assert.equal(res.status, 303);
    await expectLogoutToken(first, user.id);
    await expectLogoutToken(second, user.id);
  });

  it("an admin's revoke through the management API sends one; another tenant's API route reaches nothing", async () => {
    const user = await createUser(t, acme, 'api-revoke');
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    const elsewhere = await t.api('POST', `/tenants/globex/users/${user.id}/sessions/revoke`);
    assert.equal(elsewhere.status, 404);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(receiver.matching(RP_PATH, (c) => c.sid === signIn.claims.sid).length, 0, 'nothing sent through another tenant');
    assert.ok(globex.clientId);
    const res = await t.api('POST', `/tenants/acme/users/${user.id}/sessions/revoke`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await expectLogoutToken(signIn, user.id);
  });

  it('"Sign out everywhere" on /admin sends one', async () => {
    const user = await createUser(t, acme, 'admin-revoke');
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    const owner = await signInToConsole(acme.issuer, acme, '/account');
    const res = await owner.browser.postForm(`${acme.issuer}/admin/users/${user.id}/sessions/revoke`, { csrf: hiddenInput(owner.html, 'csrf') });
    assert.equal(res.status, 303, (await res.text()).slice(0, 300));
    await expectLogoutToken(signIn, user.id);
  });

  it('a password reset sends one for every session of the account', async () => {
    const user = await createUser(t, acme, 'password-reset');
    snapshotAtReceipt(user.id);
    const signIn = await signInAtRp(user);
    const browser = new TestBrowser();
    const form = await browser.request(`${acme.issuer}/password/forgot`);
    const formHtml = await form.text();
    assert.equal((await browser.postForm(`${acme.issuer}/password/forgot`, { csrf: hiddenInput(formHtml, 'csrf'), email: user.email, interaction: '' })).status, 200);
    const link = (await sink.waitFor(user.email, 1)).links.find((l) => l.includes('/password/reset?'))!;
    const page = await browser.request(link);
    const html = await page.text();
    assert.equal(page.status, 200, html.slice(0, 300));
    const done = await browser.postForm(new URL('/password/reset', link), { csrf: hiddenInput(html, 'csrf'), token: hiddenInput(html, 'token'), password: 'a-reset-long-password-2', password_confirmation: 'a-reset-long-password-2' });
    assert.ok(done.status < 400, `reset: ${done.status}`);
    await expectLogoutToken(signIn, user.id);
  });
});

describe('only after the commit', () => {
  /** Runs `fn` in a tenant transaction of acme that then fails: everything it wrote rolls back. */
  const inFailingTransaction = (fn: () => Promise<unknown>) =>
    runAsTenant(acmeId, () =>
      t.atrium.services.db.withTenant(async () => {
        await fn();
        throw new Error('the surrounding change failed');
      }),
    );

  it('a session ended in a transaction that rolls back sends no logout token, and is not ended; committed, it sends one', async () => {
    const user = await createUser(t, acme, 'rolled-back');
    snapshotAtReceipt(user.id);
    const one = await signInAtRp(user);
    const all = await signInAtRp(user);
    const { userSessions } = t.atrium.services;

    await assert.rejects(inFailingTransaction(() => userSessions.revoke(user.id, one.session, { actor: null })), /the surrounding change failed/);
    await assert.rejects(inFailingTransaction(() => userSessions.revokeAllSessions(user.id, { actor: null })), /the surrounding change failed/);
    await assert.rejects(inFailingTransaction(() => userSessions.revokeAllButCurrent(user.id, {}, { actor: null })), /the surrounding change failed/);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(receiver.matching(RP_PATH, (c) => c.sub === one.claims.sub).length, 0, 'no logout token for a rolled-back end');
    assert.deepEqual(new Set(await liveSignIns(user.id)), new Set([one.session, all.session]), 'both sessions are still live');

    // The same calls, committed: the tokens go.
    assert.equal(await runAsTenant(acmeId, () => userSessions.revoke(user.id, one.session, { actor: null })), true);
    await expectLogoutToken(one, user.id);
    await runAsTenant(acmeId, () => userSessions.revokeAllSessions(user.id, { actor: null }));
    await expectLogoutToken(all, user.id);
  });
});

describe('jwks', () => {
  it('the keys the receiver verified with are the ones the tenant publishes (not another tenant\'s)', async () => {
    const acmeKeys = (await (await httpFetch(`${acme.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    const globexKeys = (await (await httpFetch(`${globex.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    const anyToken = receiver.received.find((r) => r.path === RP_PATH);
    assert.ok(anyToken, 'earlier tests received tokens');
    await assert.rejects(verifyLogoutToken(anyToken.token, globex.issuer, rp.clientId), 'a token of acme does not verify as globex');
    assert.ok(acmeKeys.keys.length > 0 && globexKeys.keys.length > 0);
  });
});
