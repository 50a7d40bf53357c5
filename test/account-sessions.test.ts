/**
 * The account page: profile, password, MFA devices and sessions. Sessions list the user's
 * sign-ins (device, IP, last seen) and end on request, so the next request there must sign
 * in again; an admin signs a user out everywhere through the management API
 * (UserSessionService.revokeAllSessions), only for users of that tenant.
 */
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { authorization, createUser, enrolTotp, finish, open, passwordStep } from './support/mfa.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { sweepExpiredPayloads } from '../src/runtime/expiry-sweeper.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let sink: SmtpSink;

before(async () => {
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  // Many sign-ins from one address in a minute; the rate limits have their own tests.
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS });
});
after(async () => {
  await t?.stop();
  await sink?.stop();
});

const PHONE_UA = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1';

/** A sign-in at the tenant's client from a browser claiming to be a phone. */
async function phoneSignIn(f: TenantFixture, user: { email: string; password: string }): Promise<TestBrowser> {
  const phone = new TestBrowser();
  const request = phone.request.bind(phone);
  phone.request = (url, init = {}) => request(url, { ...init, headers: { ...(init.headers ?? {}), 'user-agent': PHONE_UA } });
  const auth = await authorization(f);
  await finish(phone, auth, await passwordStep(phone, auth, user));
  return phone;
}

const sessionIds = (html: string) => [...html.matchAll(/data-session="([^"]+)"/g)].map((m) => m[1]!);

describe('sessions', () => {
  it('lists sign-ins with device, IP and last seen, and revokes one so that browser must sign in again', async () => {
    const user = await createUser(t, acme, 'traveller');
    const phone = await phoneSignIn(acme, user);
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const ids = sessionIds(html);
    assert.equal(ids.length, 2, html);
    assert.match(html, /Safari · iOS/);
    assert.match(html, /127\.0\.0\.1/);
    assert.match(html, /this browser/);
    const phoneRow = /<tr data-session="([^"]+)">(?:(?!<\/tr>)[\s\S])*Safari · iOS/.exec(html)![1]!;

    const revoked = await browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: hiddenInput(html, 'csrf'), session: phoneRow });
    assert.equal(revoked.status, 303);
    const after = await (await browser.request(`${acme.issuer}/account`)).text();
    assert.equal(sessionIds(after).length, 1);

    // The phone's sign-in is gone: its next authorization asks for the password.
    const next = await open(phone, (await authorization(acme)).url);
    assert.match(next.html, /name="password"/);
  });

  it('revoking the current session ends the account page too', async () => {
    const user = await createUser(t, acme, 'self');
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const current = /<tr data-session="([^"]+)">(?:(?!<\/tr>)[\s\S])*this browser/.exec(html)![1]!;
    await browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: hiddenInput(html, 'csrf'), session: current });
    const res = await browser.request(`${acme.issuer}/account`);
    assert.equal(res.status, 302);
  });

  it('"Sign out everywhere" on /account ends every sign-in and console session of the user (this one too), not without CSRF, and no other user\'s', async () => {
    const user = await createUser(t, acme, 'leaver');
    const other = await createUser(t, acme, 'stayer');
    const phone = await phoneSignIn(acme, user);
    const otherConsole = await signInToConsole(acme.issuer, other);
    const { browser, html } = await signInToConsole(acme.issuer, user);
    assert.equal(sessionIds(html).length, 2, html);
    assert.match(html, /action="\/account\/sessions\/revoke-all"/, 'the page offers it');
    const forged = await browser.postForm(`${acme.issuer}/account/sessions/revoke-all`, { csrf: 'forged' });
    assert.equal(forged.status, 403);
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 200, 'a forged post ends nothing');

    const res = await browser.postForm(`${acme.issuer}/account/sessions/revoke-all`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/account/signed-out', 'no upstream: straight to the signed-out page');
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 302, 'this browser must sign in again');
    assert.match((await open(phone, (await authorization(acme)).url)).html, /name="password"/, 'the phone must sign in again');
    assert.equal((await otherConsole.browser.request(`${acme.issuer}/account`)).status, 200, 'another user is untouched');
    const events = (await t.api('GET', '/tenants/acme/audit?action=user.sessions_revoked&limit=20')).body.events as { actor: string; target: string; details: { sign_ins: number; console_sessions: number } }[];
    assert.ok(events.some((e) => e.actor === user.id && e.target === user.id && e.details.sign_ins === 2), JSON.stringify(events));
  });

  it("cannot revoke another user's session, nor without CSRF", async () => {
    const alice = await createUser(t, acme, 'alice');
    const bob = await createUser(t, acme, 'bob');
    const aliceConsole = await signInToConsole(acme.issuer, alice);
    const bobConsole = await signInToConsole(acme.issuer, bob);
    const bobSession = sessionIds(bobConsole.html)[0]!;
    const res = await aliceConsole.browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: hiddenInput(aliceConsole.html, 'csrf'), session: bobSession });
    assert.equal(res.status, 404);
    const forged = await bobConsole.browser.postForm(`${acme.issuer}/account/sessions/revoke`, { csrf: 'forged', session: bobSession });
    assert.equal(forged.status, 403);
    assert.equal((await bobConsole.browser.request(`${acme.issuer}/account`)).status, 200);
  });

  it('lets an admin sign a user out everywhere through the API, within the tenant only, refresh tokens included', async () => {
    const user = await createUser(t, acme, 'everywhere');
    const phone = await phoneSignIn(acme, user);
    // An app holding a refresh token for the user (consent asked once for offline access).
    const app = new TestBrowser();
    const offline = await authorization(acme, { scope: 'openid offline_access', prompt: 'consent' });
    const { tokens } = await finish(app, offline, await passwordStep(app, offline, user));
    assert.ok(tokens.refresh_token);
    const { browser } = await signInToConsole(acme.issuer, user);
    const listed = await t.api('GET', `/tenants/acme/users/${user.id}/sessions`);
    assert.equal(listed.status, 200);
    assert.equal(listed.body.data.length, 3);
    assert.ok(listed.body.data.some((s: { device: string }) => s.device === 'Safari · iOS'));

    const elsewhere = await t.api('POST', `/tenants/globex/users/${user.id}/sessions/revoke`);
    assert.equal(elsewhere.status, 404, 'a user of acme is not reachable through globex');
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 200);

    const res = await t.api('POST', `/tenants/acme/users/${user.id}/sessions/revoke`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { sign_ins: 3, console_sessions: 1 });
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 302);
    await assert.rejects(oidc.refreshTokenGrant(offline.config, tokens.refresh_token), (err: { error?: string }) => err.error === 'invalid_grant', 'the refresh token no longer works');
    assert.match((await open(phone, (await authorization(acme)).url)).html, /name="password"/);
    const audit = await t.api('GET', `/tenants/acme/audit?action=user.sessions_revoked`);
    assert.ok(audit.body.events.some((e: { target: string }) => e.target === user.id));

    const gone = await t.api('DELETE', `/tenants/acme/users/00000000-0000-4000-8000-000000000000/sessions`);
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error, 'not_found');
    assert.ok(gone.body.correlation_id);
  });
});

describe('session records', () => {
  it('are swept once their sign-in session has ended', async () => {
    const user = await createUser(t, acme, 'sweep');
    const { browser, html } = await signInToConsole(acme.issuer, user);
    await browser.postForm(`${acme.issuer}/account/logout`, { csrf: hiddenInput(html, 'csrf') });
    const db = t.atrium.services.db;
    const tenantId = (await t.api('GET', '/tenants/acme')).body.id as string;
    const count = () => runAsTenant(tenantId, () => db.withTenant((q) => q.query('SELECT 1 FROM user_sessions WHERE user_id = $1', [user.id]))).then((r) => r.rows.length);
    assert.equal(await count(), 1, 'signing out leaves the record for the sweeper');
    await sweepExpiredPayloads(db);
    assert.equal(await count(), 1, 'a recent record is kept (its session may not be saved yet)');
    await runAsTenant(tenantId, () => db.withTenant((q) => q.query("UPDATE user_sessions SET last_seen_at = now() - interval '2 hours' WHERE user_id = $1", [user.id])));
    await sweepExpiredPayloads(db);
    assert.equal(await count(), 0);
  });
});

describe('account page', () => {
  it('changes the name and the password (checking the current one and the policy), ending the other sessions', async () => {
    const user = await createUser(t, acme, 'profile');
    const phone = await phoneSignIn(acme, user);
    // Someone else's app, signed in with the old password, holding a refresh token.
    const app = new TestBrowser();
    const offline = await authorization(acme, { scope: 'openid offline_access', prompt: 'consent' });
    const { tokens } = await finish(app, offline, await passwordStep(app, offline, user));
    assert.ok(tokens.refresh_token);
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const csrf = hiddenInput(html, 'csrf');
    assert.equal((await browser.postForm(`${acme.issuer}/account/profile`, { csrf, name: 'Ada Lovelace' })).status, 303);
    assert.match(await (await browser.request(`${acme.issuer}/account`)).text(), /Ada Lovelace/);

    const wrong = await browser.postForm(`${acme.issuer}/account/password`, { csrf, current_password: 'nope', new_password: 'a-new-long-password', confirm_password: 'a-new-long-password' });
    assert.equal(wrong.status, 400);
    const short = await browser.postForm(`${acme.issuer}/account/password`, { csrf, current_password: user.password, new_password: 'short', confirm_password: 'short' });
    assert.equal(short.status, 400);
    assert.match(await short.text(), /at least/);
    const inFrench = await browser.postForm(`${acme.issuer}/account/password`, { csrf, current_password: user.password, new_password: 'short', confirm_password: 'short' }, { 'accept-language': 'fr' });
    assert.equal(inFrench.status, 400);
    assert.match(await inFrench.text(), /au moins \d+ caractères/, 'the policy speaks the page\'s language');
    const ok = await browser.postForm(`${acme.issuer}/account/password`, { csrf, current_password: user.password, new_password: 'a-new-long-password', confirm_password: 'a-new-long-password' });
    assert.equal(ok.status, 303);
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 200, 'the browser that changed the password stays signed in');
    assert.match((await open(phone, (await authorization(acme)).url)).html, /name="password"/, 'the other sign-in has ended');
    await assert.rejects(oidc.refreshTokenGrant(offline.config, tokens.refresh_token), (err: { error?: string }) => err.error === 'invalid_grant', 'the refresh token from the old password no longer works');
    const audit = await t.api('GET', `/tenants/acme/audit?action=user.tokens_revoked`);
    assert.ok(audit.body.events.some((e: { target: string }) => e.target === user.id));
    const fresh = await signInToConsole(acme.issuer, { email: user.email, password: 'a-new-long-password' });
    assert.equal(fresh.status, 200);
  });

  it('removes the authenticator app and regenerates recovery codes, audited and announced by mail', async () => {
    const user = await createUser(t, acme, 'devices');
    const { browser, accountHtml, codes } = await enrolTotp(acme.issuer, user);
    const csrf = hiddenInput(accountHtml, 'csrf');
    // Post/redirect/get: the codes are on the GET page the 303 names, once; a reload shows them no more.
    const regenerated = await browser.postForm(`${acme.issuer}/account/mfa/recovery-codes`, { csrf });
    assert.equal(regenerated.status, 303);
    assert.equal(regenerated.headers.get('location'), '/account/mfa/recovery-codes');
    const shown = await browser.request(`${acme.issuer}/account/mfa/recovery-codes`);
    assert.equal(shown.status, 200);
    assert.match(shown.headers.get('cache-control') ?? '', /no-store/);
    const fresh = [...(await shown.text()).matchAll(/<li><code>([a-z0-9-]+)<\/code><\/li>/g)].map((m) => m[1]!);
    assert.equal(fresh.length, 10);
    const reload = await browser.request(`${acme.issuer}/account/mfa/recovery-codes`);
    assert.equal(reload.status, 303, 'a reload shows them no more');
    assert.equal(reload.headers.get('location'), '/account');
    await reload.body?.cancel();
    const again = await (await browser.request(`${acme.issuer}/account`)).text();
    assert.ok(fresh.every((code) => !again.includes(code)), 'nor does the account page');
    assert.ok(!fresh.includes(codes[0]!));
    assert.equal((await browser.postForm(`${acme.issuer}/account/mfa/totp/remove`, { csrf })).status, 303);
    assert.match(await (await browser.request(`${acme.issuer}/account`)).text(), /data-totp-status="off"/);
    // Without a second factor, the next sign-in is the password alone again.
    const other = new TestBrowser();
    const auth = await authorization(acme);
    const { claims } = await finish(other, auth, await passwordStep(other, auth, user));
    assert.deepEqual(claims.amr, ['pwd']);
    const audit = await t.api('GET', `/tenants/acme/audit`);
    const actions = audit.body.events.filter((e: { target: string }) => e.target === user.id).map((e: { action: string }) => e.action);
    for (const action of ['user.mfa.totp_enrolled', 'user.mfa.recovery_codes_regenerated', 'user.mfa.totp_removed']) assert.ok(actions.includes(action), `${action} in ${actions.join(', ')}`);
    // One "MFA changed" mail per change, saying what changed.
    const mails = await Promise.all([1, 2, 3].map((n) => sink.waitFor(user.email, n)));
    const said = mails.map((m) => m.text).join('\n');
    for (const wording of ['an authenticator app was added', 'new recovery codes were generated', 'the authenticator app was removed']) assert.match(said, new RegExp(wording));
  });

  it('resets a user\'s MFA through the API (MfaService.resetForUser)', async () => {
    const user = await createUser(t, acme, 'lost-phone');
    await enrolTotp(acme.issuer, user);
    const reset = await t.api('POST', `/tenants/acme/users/${user.id}/mfa/reset`);
    assert.equal(reset.status, 204);
    const browser = new TestBrowser();
    const auth = await authorization(acme);
    const { claims } = await finish(browser, auth, await passwordStep(browser, auth, user));
    assert.deepEqual(claims.amr, ['pwd']);
  });

  it("keeps another tenant's console away from the account routes", async () => {
    const { browser, html } = await signInToConsole(globex.issuer, globex);
    const res = await browser.postForm(`${acme.issuer}/account/mfa/recovery-codes`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(res.status, 401, 'a globex session is no session at acme');
  });
});

describe('new-device alerts', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('mails the user once when they sign in from a device they have not used before, never for their first device', async () => {
    const user = await createUser(t, acme, 'roamer');
    await signInToConsole(acme.issuer, user);
    await settle();
    await signInToConsole(acme.issuer, user);
    await settle();
    assert.equal(sink.to(user.email).length, 0, 'the first device, and the same one again, are not news');
    await phoneSignIn(acme, user);
    const mail = await sink.waitFor(user.email, 1);
    assert.match(mail.subject, /New sign-in/);
    assert.match(mail.text, /Safari · iOS/);
    await phoneSignIn(acme, user);
    await settle();
    assert.equal(sink.to(user.email).length, 1, 'a device is new once');
  });

  it('stays silent where the tenant turned new-device alerts off', async () => {
    const put = await t.api('PUT', '/tenants/globex/config/notifications', { security_alerts: { new_device: false } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const user = await createUser(t, globex, 'quiet');
    await signInToConsole(globex.issuer, user);
    await settle();
    await phoneSignIn(globex, user);
    await settle();
    assert.equal(sink.to(user.email).length, 0);
  });
});

describe('which mails a tenant sends', () => {
  const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

  it('password_changed and mfa_changed set to false silence those alerts, and email.enabled set to false silences every alert', async () => {
    const initech = await createTenantFixture(t, 'initech');
    await setSecurity(t, 'initech', { rate_limits: ROOMY_RATE_LIMITS });
    const setNotifications = async (body: unknown) => assert.equal((await t.api('PUT', '/tenants/initech/config/notifications', body)).status, 200);
    await setNotifications({ security_alerts: { password_changed: false, mfa_changed: false } });
    const user = await createUser(t, initech, 'hush');
    const { browser, accountHtml } = await enrolTotp(initech.issuer, user);
    const csrf = hiddenInput(accountHtml, 'csrf');
    const changed = await browser.postForm(`${initech.issuer}/account/password`, { csrf, current_password: user.password, new_password: 'hush-new-long-password', confirm_password: 'hush-new-long-password' });
    assert.equal(changed.status, 303, await changed.text());
    await settle();
    assert.equal(sink.to(user.email).length, 0, 'no mail for the enrolment nor the password change');

    // Alerts back on: the same kind of change is mailed, so the switch was what kept it quiet.
    await setNotifications({});
    assert.equal((await browser.postForm(`${initech.issuer}/account/mfa/recovery-codes`, { csrf })).status, 303);
    assert.match((await sink.waitFor(user.email, 1)).text, /new recovery codes were generated/);

    // Email off: not even the new-device alert, which stays on.
    await setNotifications({ email: { enabled: false }, security_alerts: { new_device: true } });
    const roamer = await createUser(t, initech, 'roamer');
    await signInToConsole(initech.issuer, roamer);
    await settle();
    await phoneSignIn(initech, roamer);
    assert.equal((await browser.postForm(`${initech.issuer}/account/mfa/recovery-codes`, { csrf })).status, 303);
    await settle();
    assert.equal(sink.to(roamer.email).length, 0, 'no new-device mail');
    assert.equal(sink.to(user.email).length, 1, 'no second MFA mail');
  });

  it("notifications.email.from_name names the sender of the tenant's mails", async () => {
    const put = await t.api('PUT', '/tenants/globex/config/notifications', { email: { from_name: 'Globex Security Desk' } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const user = await createUser(t, globex, 'named');
    await enrolTotp(globex.issuer, user);
    const mail = await sink.waitFor(user.email, 1);
    assert.equal(mail.fromName, 'Globex Security Desk');
    assert.equal(mail.from, 'no-reply@atrium.test', 'the address stays the platform\'s');
    // Another tenant's mails keep its brand as the name.
    const other = await createUser(t, acme, 'named');
    await enrolTotp(acme.issuer, other);
    assert.equal((await sink.waitFor(other.email, 1)).fromName, 'acme Inc.');
    assert.equal((await t.api('PUT', '/tenants/globex/config/notifications', {})).status, 200);
  });
});

describe('tenant scope and bad input', () => {
  it("keeps a user's sessions and second factors out of reach through another tenant's API routes, and answers 404 to ids that are not UUIDs", async () => {
    const user = await createUser(t, acme, 'scoped');
    const listed = await t.api('GET', `/tenants/globex/users/${user.id}/sessions`);
    assert.equal(listed.status, 404, 'an acme user is not listed through globex');
    const deleted = await t.api('DELETE', `/tenants/globex/users/${user.id}/sessions`);
    assert.equal(deleted.status, 404);
    const reset = await t.api('POST', `/tenants/globex/users/${user.id}/mfa/reset`);
    assert.equal(reset.status, 404, 'nor is their MFA reset through globex');
    const audit = await t.api('GET', `/tenants/acme/audit?action=user.mfa.mfa_reset`);
    assert.ok(!audit.body.events.some((e: { target: string }) => e.target === user.id), 'nothing was reset at acme');
    for (const id of ['not-a-uuid', 'x'.repeat(300), '%27%3B--']) {
      for (const [method, path] of [['GET', 'sessions'], ['POST', 'sessions/revoke'], ['DELETE', 'sessions'], ['POST', 'mfa/reset']] as const) {
        const res = await t.api(method, `/tenants/acme/users/${id}/${path}`);
        assert.equal(res.status, 404, `${method} ${path} with ${id.slice(0, 20)}: ${JSON.stringify(res.body)}`);
      }
    }
  });

  it('refuses malformed passkey answers, unknown passkeys and session ids on the account page without a 500', async () => {
    // At globex: acme's sign-ins per IP are spent by the tests above.
    const user = await createUser(t, globex, 'garbage');
    const { browser, html } = await signInToConsole(globex.issuer, user);
    const csrf = hiddenInput(html, 'csrf');
    for (const response of ['', 'not json', '5', '"text"', 'null', '[]', '{}', '{"id":5,"response":"x"}', JSON.stringify({ id: 'x'.repeat(5000), rawId: 'x', type: 'public-key', response: {} })]) {
      const res = await browser.postForm(`${globex.issuer}/account/mfa/passkeys`, { csrf, response, name: 'n'.repeat(500) });
      assert.equal(res.status, 400, `response ${response.slice(0, 30)}`);
    }
    for (const credential_id of ['', 'unknown', 'x'.repeat(5000)]) {
      const res = await browser.postForm(`${globex.issuer}/account/mfa/passkeys/remove`, { csrf, credential_id });
      assert.equal(res.status, 404, `credential ${credential_id.slice(0, 20)}`);
    }
    for (const session of ['', 'no-colon', 'signin:', 'console:', 'signin:unknown', 'console:unknown', 'other:thing', `signin:${'x'.repeat(5000)}`]) {
      const res = await browser.postForm(`${globex.issuer}/account/sessions/revoke`, { csrf, session });
      assert.equal(res.status, 404, `session ${session.slice(0, 20)}`);
    }
    assert.equal((await browser.request(`${globex.issuer}/account`)).status, 200, 'still signed in');
  });
});
