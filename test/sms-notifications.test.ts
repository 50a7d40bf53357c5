/**
 * Text messages (notifications.sms): Twilio's Messages API and Vonage's SMS API receive the
 * exact requests their documentation describes, at a local sink standing in for the
 * provider's host (SMS_PROVIDER_URLS, the operator's setting; never a tenant's). A user
 * verifies a phone number on /account with a texted code; a verified number gets the
 * tenant's security alerts. A provider that fails makes the code step a 503 and never fails
 * the change an alert reports. One tenant's SMS settings never reach another's users.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, type TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { startHttpSink, waitForRequests, type HttpSink } from './support/http-sink.ts';
import { asTenant, auditActions } from './support/account-security.ts';

const TWILIO_SID = 'AC0123456789abcdef0123456789abcdef';
const TWILIO_TOKEN = 'twilio-auth-token-of-acme';
const VONAGE_KEY = 'a1b2c3d4';
const VONAGE_SECRET = 'vonage-secret-of-globex';

let t: TestAtrium;
let twilio: HttpSink;
let vonage: HttpSink;
let acme: TenantFixture;
let globex: TenantFixture;
let initech: TenantFixture;

const twilioAccepts = () => twilio.answer(() => ({ status: 201, json: { sid: 'SM0123456789abcdef0123456789abcdef', status: 'queued' } }));
const vonageAccepts = () => vonage.answer((req) => ({ status: 200, json: { 'message-count': '1', messages: [{ to: new URLSearchParams(req.body).get('to'), 'message-id': '0C000000217B7F02', status: '0', 'remaining-balance': '15.5', 'message-price': '0.03', network: '23410' }] } }));

before(async () => {
  twilio = await startHttpSink();
  vonage = await startHttpSink();
  t = await startTestAtrium({ SMS_PROVIDER_URLS: `twilio=${twilio.origin},vonage=${vonage.origin}` });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  initech = await createTenantFixture(t, 'initech');
  twilioAccepts();
  vonageAccepts();
  const a = await t.api('PUT', '/tenants/acme/config/notifications', { sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, auth_token: TWILIO_TOKEN, from: '+14155550123' } });
  assert.equal(a.status, 200, JSON.stringify(a.body));
  const g = await t.api('PUT', '/tenants/globex/config/notifications', { sms: { enabled: true, provider: 'vonage', account_id: VONAGE_KEY, auth_token: VONAGE_SECRET, from: 'Globex' } });
  assert.equal(g.status, 200, JSON.stringify(g.body));
});
after(async () => {
  await t?.stop();
  await twilio?.close();
  await vonage?.close();
});

async function account(f: TenantFixture): Promise<{ browser: TestBrowser; html: string }> {
  const { browser, html, status } = await signInToConsole(f.issuer, f);
  assert.equal(status, 200, html.slice(0, 300));
  return { browser, html };
}

async function page(browser: TestBrowser, f: TenantFixture): Promise<string> {
  return (await browser.follow(new URL('/account', f.issuer))).res.text();
}

/** Asks for a code for `phone` and answers the response and the code the provider was given. */
async function requestCode(browser: TestBrowser, f: TenantFixture, html: string, phone: string) {
  return browser.postForm(`${f.issuer}/account/phone`, { csrf: hiddenInput(html, 'csrf'), phone });
}

const codeIn = (text: string) => /\b(\d{6})\b/.exec(text)?.[1];

describe('Twilio', () => {
  it('sends the verification code as a Messages API form post with Basic auth, and a verified number gets the password alert', async () => {
    const { browser, html } = await account(acme);
    assert.match(html, /id="phone"/, 'the account page offers a phone number while SMS is on');
    const before = twilio.requests.length;
    const sent = await requestCode(browser, acme, html, '+1 415-555-2671');
    assert.equal(sent.status, 303, await sent.text());
    const req = twilio.requests[before]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, `/2010-04-01/Accounts/${TWILIO_SID}/Messages.json`);
    assert.equal(req.headers.authorization, `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`);
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    const form = new URLSearchParams(req.body);
    assert.deepEqual([...form.keys()], ['To', 'From', 'Body']);
    assert.equal(form.get('To'), '+14155552671', 'the number is sent in E.164');
    assert.equal(form.get('From'), '+14155550123');
    const code = codeIn(form.get('Body')!);
    assert.ok(code, form.get('Body')!);

    let html2 = await page(browser, acme);
    const wrong = await browser.postForm(`${acme.issuer}/account/phone/confirm`, { csrf: hiddenInput(html2, 'csrf'), code: code === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /That code is not right/);
    html2 = await page(browser, acme);
    const right = await browser.postForm(`${acme.issuer}/account/phone/confirm`, { csrf: hiddenInput(html2, 'csrf'), code });
    assert.equal(right.status, 303);
    assert.match(await page(browser, acme), /data-phone-status="verified"[^>]*>Alerts go to \+14155552671/);

    const count = twilio.requests.length;
    const html3 = await page(browser, acme);
    const changed = await browser.postForm(`${acme.issuer}/account/password`, { csrf: hiddenInput(html3, 'csrf'), current_password: acme.password, new_password: 'acme-new-long-password', confirm_password: 'acme-new-long-password' });
    assert.equal(changed.status, 303);
    acme.password = 'acme-new-long-password';
    const alert = (await waitForRequests(twilio, count + 1))[count];
    assert.ok(alert, 'the password alert was texted');
    assert.equal(new URLSearchParams(alert.body).get('To'), '+14155552671');
    assert.match(new URLSearchParams(alert.body).get('Body')!, /password was changed/);
    const actions = (await auditActions(t, 'acme')).map((e) => e.action);
    assert.ok(actions.includes('user.phone_code_sent') && actions.includes('user.phone_verified') && actions.includes('user.phone_verification_failed'));
  });

  it('uses MessagingServiceSid when the sender is a Messaging Service', async () => {
    const service = 'MG0123456789abcdef0123456789abcdef';
    assert.equal((await t.api('PUT', '/tenants/acme/config/notifications', { sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: service } })).status, 200, 'the stored token is kept when omitted');
    try {
      const { browser, html } = await account(acme);
      const before = twilio.requests.length;
      assert.equal((await requestCode(browser, acme, html, '+33612345678')).status, 303);
      const form = new URLSearchParams(twilio.requests[before]!.body);
      assert.deepEqual([...form.keys()], ['To', 'MessagingServiceSid', 'Body']);
      assert.equal(form.get('MessagingServiceSid'), service);
      assert.equal(twilio.requests[before]!.headers.authorization, `Basic ${Buffer.from(`${TWILIO_SID}:${TWILIO_TOKEN}`).toString('base64')}`);
    } finally {
      await t.api('PUT', '/tenants/acme/config/notifications', { sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: '+14155550123' } });
    }
  });

  it('a provider that fails makes the code step a 503 on the page, and never fails the password change an alert reports', async () => {
    const { browser, html } = await account(acme);
    await asTenant(t, 'acme', (q) => q.query('UPDATE users SET phone_code_expires_at = NULL'));
    twilio.answer(() => ({ status: 401, json: { code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401 } }));
    try {
      const failed = await requestCode(browser, acme, html, '+14155552672');
      assert.equal(failed.status, 503);
      assert.match(await failed.text(), /could not be sent/);
      const sent = twilio.requests.length;
      const html2 = await page(browser, acme);
      const changed = await browser.postForm(`${acme.issuer}/account/password`, { csrf: hiddenInput(html2, 'csrf'), current_password: acme.password, new_password: 'acme-third-long-password', confirm_password: 'acme-third-long-password' });
      assert.equal(changed.status, 303, 'the change stands though its text alert cannot be sent');
      acme.password = 'acme-third-long-password';
      await waitForRequests(twilio, sent + 1);
      assert.equal(twilio.requests.length, sent + 1, 'the alert was tried (and refused by the provider)');
    } finally {
      twilioAccepts();
    }
  });
});

describe('Vonage', () => {
  it('sends the code as an SMS API form post with api_key, api_secret, from, to and text', async () => {
    const { browser, html } = await account(globex);
    const before = vonage.requests.length;
    const twilioBefore = twilio.requests.length;
    assert.equal((await requestCode(browser, globex, html, '+33 6 12 34 56 78')).status, 303);
    const req = vonage.requests[before]!;
    assert.equal(req.method, 'POST');
    assert.equal(req.path, '/sms/json');
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(req.headers.authorization, undefined, 'Vonage takes its credentials in the body');
    const form = new URLSearchParams(req.body);
    assert.deepEqual([...form.keys()], ['api_key', 'api_secret', 'from', 'to', 'text']);
    assert.equal(form.get('api_key'), VONAGE_KEY);
    assert.equal(form.get('api_secret'), VONAGE_SECRET);
    assert.equal(form.get('from'), 'Globex');
    assert.equal(form.get('to'), '33612345678', 'Vonage wants the number without the +');
    assert.ok(codeIn(form.get('text')!));
    assert.equal(twilio.requests.length, twilioBefore, "another tenant's provider is never used");
  });

  it('spaces codes 30 seconds apart, and a message Vonage refuses (a non-zero status in a 200) is a failure', async () => {
    const { browser, html } = await account(globex);
    const again = await requestCode(browser, globex, html, '+33612345679');
    assert.equal(again.status, 429, 'a second code within 30 seconds is refused: each one is a paid message');
    assert.match(await again.text(), /Wait a little/);
    // As if the 30 seconds had passed.
    await asTenant(t, 'globex', (q) => q.query('UPDATE users SET phone_code_expires_at = NULL'));
    vonage.answer(() => ({ status: 200, json: { 'message-count': '1', messages: [{ status: '4', 'error-text': 'Bad Credentials' }] } }));
    try {
      const res = await requestCode(browser, globex, await page(browser, globex), '+33612345679');
      assert.equal(res.status, 503);
      const failed = (await auditActions(t, 'globex')).filter((e) => e.action === 'user.phone_code_failed');
      assert.match(failed.at(-1)!.details.reason, /status 4: Bad Credentials/);
    } finally {
      vonageAccepts();
    }
  });
});

describe('settings and bad input', () => {
  it('notifications.sms: enabled false (or never set) offers no phone number and texts nothing', async () => {
    const { html } = await account(initech);
    assert.doesNotMatch(html, /id="phone"/);
    assert.equal((await t.api('PUT', '/tenants/globex/config/notifications', { sms: { enabled: false, provider: 'vonage', account_id: VONAGE_KEY, from: 'Globex' } })).status, 200);
    try {
      const { browser, html: off } = await account(globex);
      assert.doesNotMatch(off, /id="phone"/);
      const res = await requestCode(browser, globex, off, '+33612345670');
      assert.equal(res.status, 400, 'no code is sent while SMS is off');
    } finally {
      assert.equal((await t.api('PUT', '/tenants/globex/config/notifications', { sms: { enabled: true, provider: 'vonage', account_id: VONAGE_KEY, from: 'Globex' } })).status, 200);
    }
  });

  it('shows the auth_token only as the mask, and refuses incomplete or malformed settings with a 400 naming the field', async () => {
    const shown = await t.api('GET', '/tenants/acme/config');
    assert.equal(shown.body.notifications.sms.auth_token, '********');
    assert.ok(!JSON.stringify(shown.body).includes(TWILIO_TOKEN));
    const cases: [unknown, RegExp][] = [
      [{ sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID } }, /notifications\.sms\.from: required when enabled/],
      [{ sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: '+1 555 0100' } }, /notifications\.sms\.from: must be a phone number in E\.164/],
      [{ sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: 'Acme' } }, /notifications\.sms\.from/],
      [{ sms: { enabled: true, provider: 'sinch', account_id: TWILIO_SID, from: '+14155550123' } }, /notifications\.sms\.provider/],
      [{ sms: { enabled: true, provider: 'twilio', account_id: 'AC x', from: '+14155550123' } }, /notifications\.sms\.account_id/],
      [{ sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: '+14155550123', region: 'us1' } }, /notifications\.sms\.region: unknown field/],
    ];
    for (const [body, message] of cases) {
      const res = await t.api('PUT', '/tenants/acme/config/notifications', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error_description, message);
      assert.ok(res.body.correlation_id);
    }
    const noToken = await t.api('PUT', '/tenants/initech/config/notifications', { sms: { enabled: true, provider: 'twilio', account_id: TWILIO_SID, from: '+14155550123' } });
    assert.equal(noToken.status, 400);
    assert.match(noToken.body.error_description, /notifications\.sms\.auth_token: required when enabled/);
  });

  it('refuses a number that is not a valid E.164 phone number on the page, sending nothing', async () => {
    const { browser, html } = await account(globex);
    const before = vonage.requests.length;
    for (const phone of ['0612345678', '+1 555 0100', '+33 6 12', 'call me']) {
      const res = await requestCode(browser, globex, html, phone);
      assert.equal(res.status, 400, phone);
      assert.match(await res.text(), /not a valid phone number/);
    }
    assert.equal(vonage.requests.length, before);
  });
});
