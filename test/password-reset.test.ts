/**
 * Password reset by email, against a real SMTP server: the request answers the same for
 * known and unknown addresses, the link arrives, works once, expires, belongs to one
 * tenant, refuses a weak password without being used up, and a reset ends every session
 * of the account (provider sessions and Atrium's own pages).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, SignInRefused, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { signInToConsole } from './support/console.ts';
import { asTenant, auditActions, comparablePage, expireLinks, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import * as oidc from 'openid-client';
import { RemoteClock } from './support/remote-clock.ts';

let t: TestAtrium;
let sink: SmtpSink;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  [acme, globex] = await Promise.all([createTenantFixture(t, 'acme'), createTenantFixture(t, 'globex')]);
});
after(async () => {
  await t?.stop();
  await sink?.stop();
});

/** Opens the "forgot password" form in a browser and posts `email`. */
async function requestReset(origin: string, email: string, browser = new TestBrowser(), headers: Record<string, string> = {}) {
  const form = await browser.request(`${origin}/password/forgot`, { headers });
  const html = await form.text();
  assert.equal(form.status, 200, html.slice(0, 300));
  const res = await browser.postForm(`${origin}/password/forgot`, { csrf: hiddenInput(html, 'csrf'), email, interaction: '' }, headers);
  return { status: res.status, html: await res.text(), browser, headers: res.headers };
}

/** The link of the `n`-th reset mail to `email` (a completed reset also mails "your password was changed"). */
async function resetLink(email: string, n: number): Promise<string> {
  let seen = 0;
  for (let i = 1; ; i++) {
    const mail = await sink.waitFor(email, i);
    const link = mail.links.find((l) => l.includes('/password/reset?'));
    if (link && ++seen === n) return link;
  }
}

/** Opens a reset link and posts a new password; returns the answer. */
async function useLink(link: string, password: string, confirmation = password, browser = new TestBrowser()) {
  const page = await browser.request(link);
  const html = await page.text();
  if (page.status !== 200) return { status: page.status, html };
  const res = await browser.postForm(new URL('/password/reset', link), { csrf: hiddenInput(html, 'csrf'), token: hiddenInput(html, 'token'), password, password_confirmation: confirmation });
  return { status: res.status, html: await res.text() };
}

/** Posts the forgot-password form once per email, 50 ms apart, timed from RemoteClock's thread; returns each answer's time in ms. */
async function timeFromClock(browser: TestBrowser, issuer: string, csrf: string, emails: string[]): Promise<number[]> {
  const clock = new RemoteClock();
  try {
    const times: number[] = [];
    for (const email of emails) {
      const res = await clock.postForm(browser, `${issuer}/password/forgot`, { csrf, email });
      assert.equal(res.status, 200, res.body.slice(0, 300));
      times.push(res.ms);
      await new Promise((r) => setTimeout(r, 50));
    }
    return times;
  } finally {
    await clock.close();
  }
}

async function signIn(f: TenantFixture, password: string) {
  const config = await discover(f.issuer, f.clientId, f.clientSecret);
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: oidc.randomState() });
  return signInThroughPages(url, { email: f.email, password });
}

describe('password reset', () => {
  it('answers a known and an unknown address with the same page; only the known one gets a mail', async () => {
    const known = await requestReset(acme.issuer, acme.email);
    const unknown = await requestReset(acme.issuer, 'nobody@acme.test');
    assert.equal(known.status, 200);
    assert.equal(unknown.status, 200);
    assert.equal(comparablePage(known.html), comparablePage(unknown.html));
    assert.match(known.html, /If an account exists for this address/);
    const mail = await sink.waitFor(acme.email, 1);
    assert.match(mail.subject, /Reset your acme Inc\. password/);
    assert.match(mail.html, /Choose a new password/);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sink.to('nobody@acme.test').length, 0);
    const audit = await auditActions(t, 'acme');
    assert.ok(audit.some((e) => e.action === 'user.password_reset_requested' && e.outcome === 'success' && e.target === acme.userId));
    assert.ok(audit.some((e) => e.action === 'user.password_reset_requested' && e.outcome === 'failure' && e.target === 'nobody@acme.test'));
  });

  it('sends a link on the tenant issuer that refuses a weak password, then works exactly once', async () => {
    const link = await resetLink(acme.email, 1);
    assert.ok(link.startsWith(`${acme.issuer}/password/reset?token=`), link);
    const weak = await useLink(link, 'password1');
    assert.equal(weak.status, 400);
    assert.match(weak.html, /too common/);
    assert.ok(weak.html.includes(`value="${acme.email}"`), 'the form again, for the link\'s account');
    const mismatch = await useLink(link, 'a brand new passphrase', 'something else entirely');
    assert.equal(mismatch.status, 400);
    assert.match(mismatch.html, /do not match/);
    assert.ok(mismatch.html.includes(`value="${acme.email}"`));
    const done = await useLink(link, 'a brand new passphrase');
    assert.equal(done.status, 200, done.html.slice(0, 400));
    assert.match(done.html, /Your password has been changed/);
    const again = await useLink(link, 'yet another passphrase');
    assert.equal(again.status, 400);
    assert.match(again.html, /This link no longer works/);
    await assert.rejects(signIn(acme, acme.password), SignInRefused);
    await signIn(acme, 'a brand new passphrase');
    acme.password = 'a brand new passphrase';
    const audit = await auditActions(t, 'acme');
    assert.ok(audit.some((e) => e.action === 'user.password_reset' && e.target === acme.userId));
  });

  it('a link expires', async () => {
    await requestReset(globex.issuer, globex.email);
    const link = await resetLink(globex.email, 1);
    await expireLinks(t, 'globex');
    const res = await useLink(link, 'an expired passphrase');
    assert.equal(res.status, 400);
    assert.match(res.html, /This link no longer works/);
  });

  it('a link of one tenant does nothing on another, and still works on its own', async () => {
    await requestReset(globex.issuer, globex.email);
    const link = await resetLink(globex.email, 2);
    const elsewhere = link.replace(globex.issuer, acme.issuer);
    const onAcme = await useLink(elsewhere, 'a cross tenant passphrase');
    assert.equal(onAcme.status, 400);
    const onGlobex = await useLink(link, 'the globex passphrase');
    assert.equal(onGlobex.status, 200);
    globex.password = 'the globex passphrase';
  });

  it('only the newest link works', async () => {
    await requestReset(globex.issuer, globex.email);
    const first = await resetLink(globex.email, 3);
    await requestReset(globex.issuer, globex.email);
    const second = await resetLink(globex.email, 4);
    assert.equal((await useLink(first, 'an older link passphrase')).status, 400);
    assert.equal((await useLink(second, 'the newest link passphrase')).status, 200);
    globex.password = 'the newest link passphrase';
  });

  it('ends every session of the account: provider sessions and Atrium pages', async () => {
    await signIn(acme, acme.password);
    const console = await signInToConsole(acme.issuer, { email: acme.email, password: acme.password });
    assert.equal(console.status, 200);
    const sessions = () => asTenant(t, 'acme', async (q) => (await q.query(`SELECT 1 FROM oidc_payloads WHERE model = 'Session' AND payload->>'accountId' = $1`, [acme.userId])).rowCount);
    assert.ok((await sessions()) >= 2);
    await requestReset(acme.issuer, acme.email);
    const done = await useLink(await resetLink(acme.email, 2), 'the third acme passphrase');
    assert.equal(done.status, 200);
    acme.password = 'the third acme passphrase';
    assert.equal(await sessions(), 0);
    const account = await console.browser.request(`${acme.issuer}/account`);
    assert.equal(account.status, 302, 'the console session is gone: back to sign-in');
    await account.body?.cancel();
  });

  it('writes the mail in the language of the page that asked', async () => {
    const before = sink.to(globex.email).length;
    const res = await requestReset(globex.issuer, globex.email, new TestBrowser(), { 'accept-language': 'fr' });
    assert.match(res.html, /Consultez votre boîte de réception/);
    const mail = await sink.waitFor(globex.email, before + 1);
    assert.match(mail.subject, /Réinitialisez votre mot de passe/);
    assert.ok(mail.links[0]!.includes('lang=fr'));
  });

  it('limits requests per address (5 an hour) whether or not it is registered', async () => {
    for (let i = 0; i < 5; i++) assert.equal((await requestReset(acme.issuer, 'flooded@acme.test')).status, 200);
    const refused = await requestReset(acme.issuer, 'flooded@acme.test');
    assert.equal(refused.status, 429);
    assert.match(refused.html, /Too many requests/);
    assert.ok(Number(refused.headers.get('retry-after')) > 0);
  });

  it('answers known and unknown addresses in the same time within 20% (median of 20)', async () => {
    await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS });
    const known: string[] = [];
    // 20 of each, like the sign-in timing test: with fewer, a busy machine's noise decides.
    for (let i = 0; i < 20; i++) {
      const res = await t.api('POST', '/tenants/acme/users', { email: `timed-${i}@acme.test`, password: `a timed passphrase ${i}` });
      assert.equal(res.status, 201);
      known.push(`timed-${i}@acme.test`);
    }
    const browser = new TestBrowser();
    const form = await browser.request(`${acme.issuer}/password/forgot`);
    const csrf = hiddenInput(await form.text(), 'csrf');
    const median = (xs: number[]) => {
      const sorted = [...xs].sort((x, y) => x - y);
      return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
    };
    // As in sign-in-timing.test.ts: a measurement tilted by the other test file's work is
    // taken again, up to three in all; a real difference tilts every one.
    const seen: string[] = [];
    for (let round = 1; round <= 3; round++) {
      const emails = [`warm-up-${round}@acme.test`];
      for (let i = 0; i < 20; i++) emails.push(known[i]!, `unknown-${round}-${i}@acme.test`);
      // The client runs in a worker: in this thread it would wait on the server's own
      // after-answer work (the embedded database runs in this thread), which no real client does.
      const times = await timeFromClock(browser, acme.issuer, csrf, emails);
      const [ka, ub] = [median(times.filter((_, i) => i % 2 === 1)), median(times.filter((_, i) => i > 0 && i % 2 === 0))];
      // Both answers take a few milliseconds; allow 2 ms of noise on top of the 20%.
      if (Math.abs(ka - ub) <= Math.max(ka, ub) * 0.2 + 2) break;
      seen.push(`known ${ka.toFixed(1)} ms vs unknown ${ub.toFixed(1)} ms`);
      assert.ok(round < 3, `every measurement differed: ${seen.join('; ')}`);
    }
    for (const email of known) await sink.waitFor(email);
  });

  it('refuses a forged form (no CSRF token)', async () => {
    const browser = new TestBrowser();
    await (await browser.request(`${acme.issuer}/password/forgot`)).body?.cancel();
    const res = await browser.postForm(`${acme.issuer}/password/forgot`, { email: acme.email });
    assert.equal(res.status, 403);
    await res.body?.cancel();
  });
});
