/**
 * Signup per tenant policy, against a real SMTP server. "open" lets anyone of its domains
 * sign up and verifies the email before the account exists; "instant" signs the new
 * account in at once; "invited" (the default, invite_only) shows no signup at all and
 * takes people in by invitation; "sealed" is closed even to invitations. Verification and
 * invitation links arrive, work once, expire and belong to their tenant. A tenant with its
 * own SMTP settings sends through its own server, with its sealed password.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { auditActions, comparablePage, expireLinks, setSecurity } from './support/account-security.ts';
import * as oidc from 'openid-client';

let t: TestAtrium;
let sink: SmtpSink;
let ownSink: SmtpSink;
let open: TenantFixture;
let instant: TenantFixture;
let invited: TenantFixture;
let sealed: TenantFixture;

before(async () => {
  [sink, ownSink] = await Promise.all([SmtpSink.start(), SmtpSink.start()]);
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  [open, instant, invited, sealed] = await Promise.all([createTenantFixture(t, 'open'), createTenantFixture(t, 'instant'), createTenantFixture(t, 'invited'), createTenantFixture(t, 'sealed')]);
  await setSecurity(t, 'open', { signup: { mode: 'open', allowed_email_domains: ['open.test', 'partner.test'] } });
  await setSecurity(t, 'instant', { signup: { mode: 'open', require_email_verification: false } });
  await setSecurity(t, 'sealed', { signup: { mode: 'closed' } });
});
after(async () => {
  await t?.stop();
  await Promise.all([sink?.stop(), ownSink?.stop()]);
});

/** Starts an authorization request and returns the browser at its login page. */
async function loginPage(f: TenantFixture, browser = new TestBrowser()) {
  const url = new URL(`${f.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: f.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: randomUUID() }).toString();
  const page = await browser.follow(url);
  const html = await page.res.text();
  assert.equal(page.res.status, 200, html.slice(0, 300));
  return { browser, url: page.url, html };
}

async function submitSignup(f: TenantFixture, fields: { email: string; password: string; name?: string }) {
  const login = await loginPage(f);
  const link = /href="(\/interaction\/[^"]+\/signup)"/.exec(login.html);
  assert.ok(link, 'the login page links to signup');
  const form = await login.browser.request(new URL(link[1]!, f.issuer));
  const html = await form.text();
  assert.equal(form.status, 200);
  const res = await login.browser.postForm(new URL(link[1]!, f.issuer), { csrf: hiddenInput(html, 'csrf'), name: fields.name ?? 'New Person', email: fields.email, password: fields.password });
  return { status: res.status, html: res.status === 303 ? '' : await res.text(), location: res.headers.get('location'), browser: login.browser, interactionUrl: login.url };
}

/** Opens a verification link and presses its button. */
async function verify(link: string, browser = new TestBrowser()) {
  const page = await browser.request(link);
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, html };
  const res = await browser.postForm(new URL('/signup/verify', link), { csrf: hiddenInput(html, 'csrf'), token: hiddenInput(html, 'token') });
  return { status: res.status, html: await res.text() };
}

async function signIn(f: TenantFixture, email: string, password: string) {
  const config = await discover(f.issuer, f.clientId, f.clientSecret);
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: oidc.randomState() });
  return signInThroughPages(url, { email, password });
}

const userByEmail = async (slug: string, email: string) => ((await t.api('GET', `/tenants/${slug}/users?limit=100`)).body.users as { email: string; email_verified: boolean; id: string; roles: string[] }[]).find((u) => u.email === email);

describe('signup', () => {
  it('the login page links to signup only where signup is open, and always to password reset', async () => {
    const openPage = await loginPage(open);
    assert.match(openPage.html, /Create an account/);
    assert.match(openPage.html, /href="\/password\/forgot\?interaction=/);
    for (const f of [invited, sealed]) {
      const page = await loginPage(f);
      assert.doesNotMatch(page.html, /Create an account/);
      const uid = /\/interaction\/([^/"]+)\/login/.exec(page.html)![1]!;
      const direct = await page.browser.request(`${f.issuer}/interaction/${uid}/signup`);
      assert.equal(direct.status, 404, `${f.slug}: no signup form`);
      await direct.body?.cancel();
    }
  });

  it('open signup: a verification mail, a link that works once, then the account exists and signs in', async () => {
    const email = 'newcomer@open.test';
    const res = await submitSignup(open, { email, password: 'a fine new passphrase' });
    assert.equal(res.status, 200, res.html.slice(0, 500));
    assert.match(res.html, /Check your inbox/);
    assert.equal(await userByEmail('open', email), undefined, 'no account before the email is verified');
    const mail = await sink.waitFor(email);
    assert.match(mail.subject, /Confirm your email address for open Inc\./);
    const link = mail.links.find((l) => l.includes('/signup/verify?'))!;
    assert.ok(link.startsWith(`${open.issuer}/signup/verify?token=`), link);
    const page = await new TestBrowser().request(link);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /Confirm newcomer@open\.test/);
    const done = await verify(link, res.browser);
    assert.equal(done.status, 200, done.html.slice(0, 300));
    assert.match(done.html, /Your account is ready/);
    assert.match(done.html, /href="\/interaction\//, 'continue in the sign-in the signup started from');
    const user = await userByEmail('open', email);
    assert.equal(user?.email_verified, true);
    assert.equal((await verify(link)).status, 400, 'the link works once');
    const { callback } = await signIn(open, email, 'a fine new passphrase');
    assert.ok(callback.searchParams.get('code'));
    const audit = await auditActions(t, 'open');
    assert.ok(audit.some((e) => e.action === 'user.signed_up' && e.target === user?.id));
  });

  it('refuses a domain outside allowed_email_domains and a password outside the policy, with messages', async () => {
    const domain = await submitSignup(open, { email: 'someone@elsewhere.test', password: 'a fine new passphrase' });
    assert.equal(domain.status, 400);
    assert.match(domain.html, /this email domain cannot be created here/);
    const weak = await submitSignup(open, { email: 'weak@partner.test', password: 'iloveyou' });
    assert.equal(weak.status, 400);
    assert.match(weak.html, /too common/);
    assert.equal(sink.to('weak@partner.test').length + sink.to('someone@elsewhere.test').length, 0);
  });

  it('an email with a control character is refused on the form, with a message', async () => {
    const email = await submitSignup(instant, { email: 'nul\u0000@instant.test', password: 'a quick passphrase' });
    assert.equal(email.status, 400, email.html.slice(0, 300));
    assert.match(email.html, /valid email address/);
    const verified = await submitSignup(open, { email: 'nul\u0000@open.test', password: 'a fine new passphrase' });
    assert.equal(verified.status, 400, verified.html.slice(0, 300));
    assert.match(verified.html, /valid email address/);
  });

  it('an address already registered gets the same page, no link, and its owner a mail that someone tried', async () => {
    const res = await submitSignup(open, { email: open.email, password: 'another fine passphrase' });
    assert.equal(res.status, 200);
    assert.match(res.html, /Check your inbox/);
    const fresh = await submitSignup(open, { email: 'fresh@open.test', password: 'another fine passphrase' });
    assert.equal(comparablePage(fresh.html).replaceAll('fresh@open.test', 'X').replace(/\/interaction\/[^"]+/g, ''), comparablePage(res.html).replaceAll(open.email, 'X').replace(/\/interaction\/[^"]+/g, ''));
    const mail = await sink.waitFor(open.email);
    assert.match(mail.subject, /Someone tried to create an account/);
    assert.ok(mail.links.some((l) => l.startsWith(`${open.issuer}/password/forgot`)), mail.links.join(' '));
    assert.ok(!mail.links.some((l) => l.includes('/signup/verify')), 'no link that would create anything');
  });

  it('a verification link expires, and does nothing on another tenant', async () => {
    const email = 'late@partner.test';
    assert.equal((await submitSignup(open, { email, password: 'a late passphrase' })).status, 200);
    const link = (await sink.waitFor(email)).links[0]!;
    const elsewhere = await verify(link.replace(open.issuer, instant.issuer));
    assert.equal(elsewhere.status, 400);
    assert.equal(await userByEmail('instant', email), undefined);
    await expireLinks(t, 'open');
    assert.equal((await verify(link)).status, 400);
    assert.equal(await userByEmail('open', email), undefined);
  });

  it('without required verification, a new and a registered address get the same page; the new account signs in with its password', async () => {
    const res = await submitSignup(instant, { email: 'quick@instant.test', password: 'a quick passphrase' });
    assert.equal(res.status, 200, res.html.slice(0, 300));
    const taken = await submitSignup(instant, { email: instant.email, password: 'a quick passphrase' });
    assert.equal(taken.status, 200, taken.html.slice(0, 300));
    const neutral = (html: string, email: string) => comparablePage(html).replaceAll(email, 'X').replace(/\/interaction\/[^"]+/g, '');
    assert.equal(neutral(res.html, 'quick@instant.test'), neutral(taken.html, instant.email));
    assert.doesNotMatch(taken.html, /already exists/);
    // The new account exists at once (unverified) and its welcome mail links to signing in.
    assert.equal((await userByEmail('instant', 'quick@instant.test'))?.email_verified, false);
    const welcome = await sink.waitFor('quick@instant.test');
    assert.match(welcome.subject, /Your instant Inc\. account is ready/);
    const { callback } = await signIn(instant, 'quick@instant.test', 'a quick passphrase');
    assert.ok(callback.searchParams.get('code'));
    // The registered owner is told, and keeps their own password.
    assert.match((await sink.waitFor(instant.email)).subject, /Someone tried to create an account/);
    assert.ok((await signIn(instant, instant.email, instant.password)).callback.searchParams.get('code'));
    await assert.rejects(signIn(instant, instant.email, 'a quick passphrase'));
  });
});

describe('invitations', () => {
  it('an admin invites; the link sets a password once; the invited person signs in', async () => {
    const res = await t.api('POST', '/tenants/invited/invitations', { email: 'guest@invited.test', name: 'Guest', roles: ['admin'] });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.mail_sent, true);
    assert.deepEqual(res.body.user.roles, ['admin']);
    const mail = await sink.waitFor('guest@invited.test');
    assert.match(mail.subject, /You are invited to invited Inc\./);
    const link = mail.links.find((l) => l.includes('/invitation?'))!;
    assert.ok(link.startsWith(`${invited.issuer}/invitation?token=`), link);
    const browser = new TestBrowser();
    const page = await browser.request(link);
    const html = await page.text();
    assert.equal(page.status, 200);
    const post = (token: string) => browser.postForm(`${invited.issuer}/invitation`, { csrf: hiddenInput(html, 'csrf'), token, password: 'the guest passphrase', password_confirmation: 'the guest passphrase' });
    const done = await post(hiddenInput(html, 'token'));
    assert.equal(done.status, 200);
    assert.match(await done.text(), /Your account is ready/);
    const again = await post(hiddenInput(html, 'token'));
    assert.equal(again.status, 400);
    await again.body?.cancel();
    await signIn(invited, 'guest@invited.test', 'the guest passphrase');
    assert.equal((await userByEmail('invited', 'guest@invited.test'))?.email_verified, true);
  });

  it('an invitation link expires and belongs to its tenant', async () => {
    assert.equal((await t.api('POST', '/tenants/invited/invitations', { email: 'later@invited.test' })).status, 201);
    const link = (await sink.waitFor('later@invited.test')).links[0]!;
    const other = await new TestBrowser().request(link.replace(invited.issuer, open.issuer));
    assert.equal(other.status, 400);
    await other.body?.cancel();
    await expireLinks(t, 'invited');
    const expired = await new TestBrowser().request(link);
    assert.equal(expired.status, 400);
    await expired.body?.cancel();
    const user = await userByEmail('invited', 'later@invited.test');
    assert.equal((await t.api('DELETE', `/tenants/invited/users/${user!.id}`)).status, 204, 'a user with pending links can be deleted');
  });

  it('inviting again takes the new name and roles, but never demotes the last owner', async () => {
    assert.equal((await t.api('POST', '/tenants/invited/invitations', { email: 'twice@invited.test', name: 'First Name', roles: ['member'] })).status, 201);
    const again = await t.api('POST', '/tenants/invited/invitations', { email: 'twice@invited.test', name: 'Second Name', roles: ['admin'] });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.equal(again.body.user.name, 'Second Name');
    assert.deepEqual(again.body.user.roles, ['admin']);
    const resent = await t.api('POST', '/tenants/invited/invitations', { email: 'twice@invited.test' });
    assert.deepEqual([resent.body.user.name, resent.body.user.roles], ['Second Name', ['admin']], 'a plain resend changes nothing');

    // A new tenant's first invited person is its owner, and its only one.
    assert.equal((await t.api('POST', '/tenants', { slug: 'fresh-org', name: 'Fresh' })).status, 201);
    const owner = await t.api('POST', '/tenants/fresh-org/invitations', { email: 'founder@fresh.test' });
    assert.deepEqual(owner.body.user.roles, ['owner']);
    const demoted = await t.api('POST', '/tenants/fresh-org/invitations', { email: 'founder@fresh.test', roles: ['member'] });
    assert.equal(demoted.status, 409, JSON.stringify(demoted.body));
    assert.deepEqual((await userByEmail('fresh-org', 'founder@fresh.test'))?.roles, ['owner']);
  });

  it('is refused where signup is closed, for an existing account, and for bad input', async () => {
    const closed = await t.api('POST', '/tenants/sealed/invitations', { email: 'x@sealed.test' });
    assert.equal(closed.status, 409);
    assert.equal(closed.body.error, 'signup_closed');
    const existing = await t.api('POST', '/tenants/invited/invitations', { email: invited.email });
    assert.equal(existing.status, 409);
    const bad = await t.api('POST', '/tenants/invited/invitations', { email: 'not an email', extra: 1 });
    assert.equal(bad.status, 400);
    assert.ok(bad.body.correlation_id);
  });

  it('a tenant with its own SMTP settings sends through its own server, with its sealed password', async () => {
    const put = await t.api('PUT', '/tenants/invited/config/integrations', { smtp: { host: '127.0.0.1', port: ownSink.port, user: 'mailer', password: 's3cret-smtp', from: 'hello@invited.test', secure: false } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal(put.body.smtp.password, '********');
    assert.equal((await t.api('POST', '/tenants/invited/invitations', { email: 'own@invited.test' })).status, 201);
    const mail = await ownSink.waitFor('own@invited.test');
    assert.equal(mail.from, 'hello@invited.test');
    assert.equal(mail.authUser, 'mailer');
    assert.equal(mail.authPassword, 's3cret-smtp');
    assert.equal(sink.to('own@invited.test').length, 0);
  });
});
