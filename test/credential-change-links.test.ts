/**
 * Issue 19 item 2: a credential change (password change on /account, a reset, an admin's
 * password reset, an MFA reset, disabling the account) ends every outstanding link of the
 * user by mail: password reset, signup verification and invitation. A link requested
 * before the change must not reset the new password afterwards.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { signInToConsole } from './support/console.ts';
import { createUser } from './support/mfa.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { asTenant, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';

let t: TestAtrium;
let sink: SmtpSink;
let acme: TenantFixture;

before(async () => {
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  acme = await createTenantFixture(t, 'acme');
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS, signup: { mode: 'open' } });
});
after(async () => {
  await t?.stop();
  await sink?.stop();
});

/** Asks for a reset link for `email` and returns it (the n-th mail to that address). */
async function resetLinkFor(email: string): Promise<string> {
  const before = sink.to(email).length;
  const browser = new TestBrowser();
  const form = await browser.request(`${acme.issuer}/password/forgot`);
  const html = await form.text();
  const res = await browser.postForm(`${acme.issuer}/password/forgot`, { csrf: hiddenInput(html, 'csrf'), email, interaction: '' });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  const mail = await sink.waitFor(email, before + 1);
  const link = mail.links.find((l) => l.includes('/password/reset?'));
  assert.ok(link, mail.text);
  return link;
}

/** Opens a link's page; 200 means it still works (shows its form), 400 that it is dead. */
async function linkStatus(link: string): Promise<number> {
  const res = await new TestBrowser().request(link);
  await res.body?.cancel();
  return res.status;
}

async function useResetLink(link: string, password: string): Promise<number> {
  const browser = new TestBrowser();
  const page = await browser.request(link);
  const html = await page.text();
  if (page.status !== 200) return page.status;
  const res = await browser.postForm(new URL('/password/reset', link), { csrf: hiddenInput(html, 'csrf'), token: hiddenInput(html, 'token'), password, password_confirmation: password });
  await res.body?.cancel();
  return res.status;
}

const liveLinks = (userId: string) => asTenant(t, 'acme', async (q) => (await q.query(`SELECT 1 FROM account_tokens WHERE user_id = $1 AND used_at IS NULL`, [userId])).rowCount);

describe('a credential change ends the outstanding links', () => {
  it('a password change on /account kills a reset link requested before it', async () => {
    const user = await createUser(t, acme, 'changer');
    const link = await resetLinkFor(user.email);
    assert.equal(await linkStatus(link), 200, 'the link works before the change');
    const { browser, html } = await signInToConsole(acme.issuer, user);
    const changed = await browser.postForm(`${acme.issuer}/account/password`, { csrf: hiddenInput(html, 'csrf'), current_password: user.password, new_password: 'the owner chose this one', confirm_password: 'the owner chose this one' });
    assert.equal(changed.status, 303, await changed.text());
    assert.equal(await useResetLink(link, 'the attacker wants this one'), 400, 'the old link no longer resets the password');
    assert.equal(await liveLinks(user.id), 0);
  });

  it('an admin setting the password kills reset and invitation links', async () => {
    const user = await createUser(t, acme, 'adminset');
    const link = await resetLinkFor(user.email);
    const res = await t.api('PATCH', `/tenants/acme/users/${user.id}`, { password: 'an admin picked this passphrase' });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(await linkStatus(link), 400);

    const invited = await t.api('POST', '/tenants/acme/invitations', { email: 'invitee@acme.test' });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const invitation = (await sink.waitFor('invitee@acme.test', 1)).links.find((l) => l.includes('/invitation?'))!;
    assert.equal(await linkStatus(invitation), 200);
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${invited.body.user.id}`, { password: 'set before the invitation was used' })).status, 200);
    assert.equal(await linkStatus(invitation), 400, 'the invitation no longer sets a password');
  });

  it('disabling the account kills the link, which stays dead after re-enabling', async () => {
    const user = await createUser(t, acme, 'disabled');
    const link = await resetLinkFor(user.email);
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${user.id}`, { status: 'disabled' })).status, 200);
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${user.id}`, { status: 'active' })).status, 200);
    assert.equal(await useResetLink(link, 'after a disable and enable'), 400);
  });

  it('a reset through one link kills the other outstanding links of the account', async () => {
    const user = await createUser(t, acme, 'twolinks');
    const reset = await resetLinkFor(user.email);
    // An invitation-style link of the same user, issued directly (there is no second reset link: a new one replaces the old).
    const tenant = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
    const { token } = await runAsTenant(tenant.id, () => t.atrium.services.accountRecovery.tokens.issue({ purpose: 'invitation', userId: user.id, email: user.email }));
    assert.equal(await useResetLink(reset, 'reset through the mailed link'), 200);
    assert.equal(await linkStatus(`${acme.issuer}/invitation?token=${token}`), 400);
  });

  it('an admin resetting the second factors kills the link', async () => {
    const user = await createUser(t, acme, 'mfareset');
    const link = await resetLinkFor(user.email);
    const admin = await signInToConsole(acme.issuer, acme, '/admin/users');
    const res = await admin.browser.postForm(`${acme.issuer}/admin/users/${user.id}/mfa/reset`, { csrf: hiddenInput(admin.html, 'csrf') });
    assert.equal(res.status, 303, await res.text());
    assert.equal(await linkStatus(link), 400);
  });

  it('an email change kills a link mailed to the old address', async () => {
    const user = await createUser(t, acme, 'mover');
    const link = await resetLinkFor(user.email);
    assert.equal((await t.api('PATCH', `/tenants/acme/users/${user.id}`, { email: 'moved@acme.test' })).status, 200);
    assert.equal(await linkStatus(link), 400, 'a link mailed to the old address no longer works');
  });
});
