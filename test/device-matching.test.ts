/**
 * `security.device_matching`: what counts as a known device, for the new-sign-in mail and in
 * the sessions list. Off (the default), a device is its browser and operating system, so a
 * laptop that moves between networks stays one device. On, the network it signs in from
 * counts too (an IPv4 /24, an IPv6 /64): the same browser on a new network is a new device.
 * Addresses come from X-Forwarded-For, believed from the loopback proxy (TRUST_PROXY=true).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { createUser } from './support/mfa.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let sink: SmtpSink;

before(async () => {
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test', TRUST_PROXY: 'true' });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS, device_matching: true });
  await setSecurity(t, 'globex', { rate_limits: ROOMY_RATE_LIMITS });
});
after(async () => {
  await t?.stop();
  await sink?.stop();
});

const LAPTOP = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

/** A browser with this User-Agent, whose requests reach Atrium from `address` (through the loopback "proxy"). */
function browserAt(address: string): TestBrowser {
  const browser = new TestBrowser();
  const request = browser.request.bind(browser);
  browser.request = (url, init = {}) => request(url, { ...init, headers: { ...(init.headers ?? {}), 'user-agent': LAPTOP, 'x-forwarded-for': address } });
  return browser;
}

const signInAt = (f: TenantFixture, user: { email: string; password: string }, address: string) => signInToConsole(f.issuer, user, '/account', browserAt(address));

describe('security.device_matching', () => {
  it('on: the same browser on a new network is a new device (mail), on a known network it is not; the sessions list names the network', async () => {
    const user = await createUser(t, acme, 'strict');
    await signInAt(acme, user, '203.0.113.7');
    await settle();
    await signInAt(acme, user, '203.0.113.99');
    await settle();
    assert.equal(sink.to(user.email).length, 0, 'first device; then the same network');
    const { html } = await signInAt(acme, user, '198.51.100.9');
    const mail = await sink.waitFor(user.email, 1);
    assert.match(mail.subject, /New sign-in/);
    assert.match(mail.text, /Firefox · Linux · 198\.51\.100\.0\/24/);
    assert.match(html, /Firefox · Linux · 203\.0\.113\.0\/24/, 'the sessions list tells the networks apart');
    assert.match(html, /Firefox · Linux · 198\.51\.100\.0\/24/);
  });

  it('off (the default, and at another tenant): a new network is the same device', async () => {
    const user = await createUser(t, globex, 'roaming');
    await signInAt(globex, user, '203.0.113.7');
    await settle();
    const { html } = await signInAt(globex, user, '198.51.100.9');
    await settle();
    assert.equal(sink.to(user.email).length, 0, 'a laptop moving between networks is not news');
    assert.match(html, /Firefox · Linux</);
    assert.ok(!html.includes('/24'), 'no network in the device name');
  });

  it('refuses a value that is not a boolean, naming the field', async () => {
    const res = await t.api('PUT', '/tenants/acme/config/security', { device_matching: 'strict' });
    assert.equal(res.status, 400);
    assert.match(res.body.error_description, /security\.device_matching/);
  });
});
