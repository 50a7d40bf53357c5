/**
 * Accounts cannot be told apart by the answer nor by its timing (issue 19, item 5), beyond
 * the sign-in itself (sign-in-timing.test.ts): signup with a registered and a new address
 * (verification required and not), "forgot password" for a known and an unknown address,
 * and a passkey sign-in with an unknown credential and with a known one whose assertion
 * does not verify. Same status, same page, medians within 20% (test/support/timing.ts),
 * timed by a client in its own thread (test/support/remote-clock.ts).
 */
import { after, before, describe, it } from 'node:test';
import { setTimeout } from 'node:timers/promises';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, randomBytes, randomUUID, sign, type KeyObject } from 'node:crypto';
import { isoCBOR } from '@simplewebauthn/server/helpers';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { asTenant, comparablePage, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { assertSameTime } from './support/timing.ts';
import { RemoteClock } from './support/remote-clock.ts';

let t: TestAtrium;
let sink: SmtpSink;
let clock: RemoteClock;
const fixtures: Record<string, TenantFixture> = {};
/** Registered addresses per tenant: a mail to one address is limited to 5 an hour, so the known side takes turns. */
const known: Record<string, string[]> = {};

before(async () => {
  sink = await SmtpSink.start();
  clock = new RemoteClock();
  t = await startTestAtrium({ SMTP_URL: sink.url, SMTP_FROM: 'no-reply@atrium.test' });
  for (const slug of ['verifying', 'instant', 'forgetful', 'keys']) fixtures[slug] = await createTenantFixture(t, slug);
  await setSecurity(t, 'verifying', { rate_limits: ROOMY_RATE_LIMITS, signup: { mode: 'open' } });
  await setSecurity(t, 'instant', { rate_limits: ROOMY_RATE_LIMITS, signup: { mode: 'open', require_email_verification: false } });
  await setSecurity(t, 'forgetful', { rate_limits: ROOMY_RATE_LIMITS });
  await setSecurity(t, 'keys', { rate_limits: ROOMY_RATE_LIMITS, webauthn: { enabled: true } });
  for (const slug of ['verifying', 'instant', 'forgetful']) {
    known[slug] = [];
    for (let i = 0; i < 16; i++) {
      const email = `member-${i}@${slug}.test`;
      const res = await t.api('POST', `/tenants/${slug}/users`, { email, password: `pw-${slug}-${i}-correct-horse`, email_verified: true });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      known[slug].push(email);
    }
  }
});
after(async () => {
  await t?.stop();
  await sink?.stop();
  await clock?.close();
});

let turn = 0;
const nextKnown = (slug: string) => known[slug]![turn++ % known[slug]!.length]!;

/** A login page of the tenant's web client: the browser, its URL and HTML. */
async function loginPage(f: TenantFixture) {
  const browser = new TestBrowser();
  const url = new URL(`${f.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: f.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: randomUUID() }).toString();
  const page = await browser.follow(url);
  const html = await page.res.text();
  assert.equal(page.res.status, 200, html.slice(0, 300));
  return { browser, url: page.url, html };
}

/** An answer's page, as compared between the two sides, and the time the client waited for it. */
type Timed = { page: string; ms: number };

/** A signup form, posted as often as asked (one interaction, one form token). */
async function signupForm(f: TenantFixture) {
  const login = await loginPage(f);
  const action = new URL(/href="(\/interaction\/[^"]+\/signup)"/.exec(login.html)![1]!, f.issuer);
  const csrf = hiddenInput(await (await login.browser.request(action)).text(), 'csrf');
  return async (email: string): Promise<Timed> => {
    const res = await clock.postForm(login.browser, action, { csrf, name: 'Some One', email, password: 'a fine new passphrase' });
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return { page: comparablePage(res.body).replaceAll(email, 'EMAIL'), ms: res.ms };
  };
}

async function forgotForm(f: TenantFixture) {
  const browser = new TestBrowser();
  const csrf = hiddenInput(await (await browser.request(`${f.issuer}/password/forgot`)).text(), 'csrf');
  return async (email: string): Promise<Timed> => {
    const res = await clock.postForm(browser, `${f.issuer}/password/forgot`, { csrf, email, interaction: '' });
    assert.equal(res.status, 200, res.body.slice(0, 300));
    return { page: comparablePage(res.body), ms: res.ms };
  };
}

/** How long background work after an answer (a token, a mail) takes to end here, with room to spare. */
const BACKGROUND_SETTLE_MS = 25;

async function compare(what: string, a: () => Promise<Timed>, b: () => Promise<Timed>) {
  // Same page (wording) first, warming both paths up.
  for (let i = 0; i < 3; i++) assert.equal((await a()).page, (await b()).page, `${what}: the two answers differ`);
  await assertSameTime(what, async () => {
    const as: number[] = [];
    const bs: number[] = [];
    // Each answer is timed on its own: work a request leaves in the background (the
    // forgot-password mail, say, delivered to this process's SMTP sink) is given time to end
    // before the next request, so it cannot land on a later answer. ABBA order evens out
    // what still does.
    const timed = async (side: () => Promise<Timed>) => {
      const { ms } = await side();
      await setTimeout(BACKGROUND_SETTLE_MS);
      return ms;
    };
    for (let i = 0; i < 20; i++) {
      if (i % 2 === 0) {
        as.push(await timed(a));
        bs.push(await timed(b));
      } else {
        bs.push(await timed(b));
        as.push(await timed(a));
      }
    }
    return [as, bs];
  });
}

describe('enumeration: answers and timing', () => {
  for (const slug of ['verifying', 'instant']) {
    it(`signup (${slug === 'instant' ? 'verification off' : 'verification required'}): a registered and a new address, same page and time`, async () => {
      const submit = await signupForm(fixtures[slug]!);
      await compare(`signup ${slug}`, () => submit(nextKnown(slug)), () => submit(`new-${randomBytes(6).toString('hex')}@${slug}.test`));
    });
  }

  it('forgot password: a known and an unknown address, same page and time', async () => {
    const submit = await forgotForm(fixtures.forgetful!);
    await compare('forgot password', () => submit(nextKnown('forgetful')), () => submit(`nobody-${randomBytes(6).toString('hex')}@forgetful.test`));
  });

  it('passkey sign-in: an unknown credential and a known one with a bad signature, same answer and time', async () => {
    const f = fixtures.keys!;
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' });
    const cose = isoCBOR.encode(new Map<number, number | Uint8Array>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.from(jwk.x!, 'base64url')], [-3, Buffer.from(jwk.y!, 'base64url')]]));
    const credentialId = randomBytes(16).toString('base64url');
    await asTenant(t, 'keys', (q) => q.query(`INSERT INTO webauthn_credentials (tenant_id, credential_id, user_id, public_key, name) VALUES (current_setting('app.tenant_id')::uuid, $1, $2, $3, 'test key')`, [credentialId, f.userId, Buffer.from(cose).toString('base64url')]));
    const wrongKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;

    const passkeyForm = async () => {
      const login = await loginPage(f);
      const options = /data-options="([^"]+)"/.exec(login.html)![1]!.replace(/&#34;|&quot;/g, '"').replace(/&amp;/g, '&');
      const challenge = (JSON.parse(options) as { challenge: string }).challenge;
      const action = new URL(/action="(\/interaction\/[^"]+\/passkey)"/.exec(login.html)![1]!, f.issuer);
      const csrf = hiddenInput(login.html, 'csrf');
      return (id: string, key: KeyObject) => clock.postForm(login.browser, action, { csrf, response: assertion(f.issuer, id, challenge, key) });
    };
    // The construction is right: signed with the credential's own key, it signs in.
    const good = await (await passkeyForm())(credentialId, privateKey);
    assert.equal(good.status, 303, good.body.slice(0, 300));

    const post = await passkeyForm();
    const answer = async (id: string): Promise<Timed> => {
      const res = await post(id, wrongKey);
      assert.equal(res.status, 401, res.body.slice(0, 300));
      return { page: res.body.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'ID'), ms: res.ms };
    };
    await compare('passkey', () => answer(randomBytes(16).toString('base64url')), () => answer(credentialId));
  });
});

/** A WebAuthn assertion for `issuer`'s relying party, signed with `key` (a bad signature unless it is the credential's). */
function assertion(issuer: string, id: string, challenge: string, key: KeyObject): string {
  const b64u = (b: Buffer) => b.toString('base64url');
  const clientDataJSON = Buffer.from(JSON.stringify({ type: 'webauthn.get', challenge, origin: new URL(issuer).origin, crossOrigin: false }));
  const authenticatorData = Buffer.concat([createHash('sha256').update(new URL(issuer).hostname).digest(), Buffer.from([0x05, 0, 0, 0, 1])]);
  const signature = sign('sha256', Buffer.concat([authenticatorData, createHash('sha256').update(clientDataJSON).digest()]), key);
  return JSON.stringify({ id, rawId: id, type: 'public-key', response: { clientDataJSON: b64u(clientDataJSON), authenticatorData: b64u(authenticatorData), signature: b64u(signature) }, clientExtensionResults: {} });
}
