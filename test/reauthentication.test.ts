/**
 * Issue 19 item 3: with only the console cookie, credentials cannot be changed on /account.
 * Adding or removing a second factor, new recovery codes and a new password need an
 * authentication within `security.reauth_max_age_seconds` with the user's strongest
 * factors (password, plus a second factor when enrolled); 0 asks on the request itself and
 * a fresh sign-in does not count. The re-authentication page returns to the action; each
 * change mails the user.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, type TestBrowser } from './support/http-client.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { signInToConsole } from './support/console.ts';
import { codeAt, createUser, enrolTotp } from './support/mfa.ts';
import { asTenant, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';

let t: TestAtrium;
let sink: SmtpSink;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  [acme, globex] = await Promise.all([createTenantFixture(t, 'acme'), createTenantFixture(t, 'globex')]);
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS });
  await setSecurity(t, 'globex', { rate_limits: ROOMY_RATE_LIMITS, reauth_max_age_seconds: 0 });
});
after(async () => {
  await t?.stop();
  await sink?.stop();
});

/** Makes every console session of the tenant's user look signed in 10 minutes ago: the 8-hour cookie, no recent authentication. */
const ageSessions = (slug: string, userId: string) =>
  asTenant(t, slug, (q) => q.query(`UPDATE console_sessions SET authenticated_at = now() - interval '10 minutes' WHERE user_id = $1`, [userId]));

async function post(browser: TestBrowser, url: string, fields: Record<string, string>) {
  const res = await browser.postForm(url, fields);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

/** Answers the re-authentication page: its carried fields plus the given factors. */
function reauthFields(html: string, factors: Record<string, string>): Record<string, string> {
  const fields: Record<string, string> = { csrf: hiddenInput(html, 'csrf'), reauth: '1', ...factors };
  for (const m of html.matchAll(/name="(carry\.[^"]+)" value="([^"]*)"/g)) fields[m[1]!] = m[2]!.replace(/&#34;/g, '"').replace(/&amp;/g, '&');
  return fields;
}

/** Waits (up to 10 s) for a mail to `email` whose text matches: alerts go out in the background, in any order. */
async function mailMatching(email: string, pattern: RegExp): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (sink.to(email).some((m) => pattern.test(m.text))) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

const totpRows = (slug: string, userId: string) => asTenant(t, slug, async (q) => (await q.query('SELECT 1 FROM mfa_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL', [userId])).rowCount);

describe('re-authentication before a credential change', () => {
  it('an old console session cannot remove the authenticator app; password plus a code can, and the user is mailed', async () => {
    const user = await createUser(t, acme, 'remover');
    const { secret, browser, accountHtml } = await enrolTotp(acme.issuer, user);
    await ageSessions('acme', user.id);
    const csrf = hiddenInput(accountHtml, 'csrf');

    const refused = await post(browser, `${acme.issuer}/account/mfa/totp/remove`, { csrf });
    assert.equal(refused.status, 401, refused.html.slice(0, 300));
    assert.match(refused.html, /Confirm it’s you/);
    assert.match(refused.html, /name="code"/, 'the second factor is asked for');
    assert.equal(await totpRows('acme', user.id), 1, 'nothing removed');

    const passwordOnly = await post(browser, `${acme.issuer}/account/mfa/totp/remove`, reauthFields(refused.html, { password: user.password }));
    assert.equal(passwordOnly.status, 401, 'the password alone is not the strongest factor this user has');
    assert.equal(await totpRows('acme', user.id), 1);

    const done = await post(browser, `${acme.issuer}/account/mfa/totp/remove`, reauthFields(passwordOnly.html, { password: user.password, code: codeAt(secret, 1) }));
    assert.equal(done.status, 303, done.html.slice(0, 300));
    assert.equal(done.location, '/account?done=totp_removed', 'back to the requested action’s result');
    assert.equal(await totpRows('acme', user.id), 0);
    assert.ok(await mailMatching(user.email, /authenticator app was removed/), 'the removal is mailed');
  });

  it('an old console session cannot start an enrolment (no secret shown) or get new recovery codes', async () => {
    const user = await createUser(t, acme, 'stale');
    const { browser, html } = await signInToConsole(acme.issuer, user);
    await ageSessions('acme', user.id);
    const csrf = hiddenInput(html, 'csrf');
    const enrol = await post(browser, `${acme.issuer}/account/mfa/totp`, { csrf });
    assert.equal(enrol.status, 401);
    assert.doesNotMatch(enrol.html, /data-totp-secret/);
    const codes = await post(browser, `${acme.issuer}/account/mfa/recovery-codes`, { csrf });
    assert.equal(codes.status, 401);
    assert.doesNotMatch(codes.html, /<li><code>/);
    // Re-authenticating with the password (no second factor yet) lands on the enrolment it asked for.
    const enrolled = await post(browser, `${acme.issuer}/account/mfa/totp`, reauthFields(enrol.html, { password: user.password }));
    assert.equal(enrolled.status, 303, enrolled.html.slice(0, 300));
    assert.match((await (await browser.request(`${acme.issuer}/account/mfa/totp`)).text()), /data-totp-secret/);
  });

  it('a password change from an old session asks again, carries the new password through, and mails the user', async () => {
    const user = await createUser(t, acme, 'pwchange');
    const { browser, html } = await signInToConsole(acme.issuer, user);
    await ageSessions('acme', user.id);
    const fields = { csrf: hiddenInput(html, 'csrf'), current_password: user.password, new_password: 'a recent proof was given', confirm_password: 'a recent proof was given' };
    const asked = await post(browser, `${acme.issuer}/account/password`, fields);
    assert.equal(asked.status, 401);
    const wrong = await post(browser, `${acme.issuer}/account/password`, reauthFields(asked.html, { password: 'not my password' }));
    assert.equal(wrong.status, 401);
    assert.match(wrong.html, /did not match/);
    const sent = sink.to(user.email).length;
    const done = await post(browser, `${acme.issuer}/account/password`, reauthFields(wrong.html, { password: user.password }));
    assert.equal(done.status, 303, done.html.slice(0, 300));
    const mail = await sink.waitFor(user.email, sent + 1);
    assert.match(mail.subject, /password was changed/);
  });

  it('with reauth_max_age_seconds 0 a fresh sign-in does not count: every change asks on the request itself', async () => {
    const user = await createUser(t, globex, 'always');
    const { browser, html } = await signInToConsole(globex.issuer, user);
    const asked = await post(browser, `${globex.issuer}/account/mfa/totp`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(asked.status, 401, 'signed in a second ago, and still asked');
    const shown = await post(browser, `${globex.issuer}/account/mfa/totp`, reauthFields(asked.html, { password: user.password }));
    assert.equal(shown.status, 303);
    const again = await post(browser, `${globex.issuer}/account/mfa/recovery-codes`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(again.status, 401, 'the re-authentication a moment ago does not count either');
  });

  it('the window is bounded in the tenant configuration', async () => {
    for (const bad of [-1, 1801, 1.5]) {
      const res = await t.api('PUT', '/tenants/acme/config/security', { reauth_max_age_seconds: bad });
      assert.equal(res.status, 400, `${bad}: ${JSON.stringify(res.body)}`);
    }
    const config = await t.api('GET', '/tenants/globex/config');
    assert.equal(config.status, 200);
    assert.match(JSON.stringify(config.body), /"reauth_max_age_seconds":0/);
  });
});
