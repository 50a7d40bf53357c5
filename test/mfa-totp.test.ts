/**
 * TOTP second factor end to end: enrolment on the account page (QR code, first code,
 * recovery codes), sign-in with real codes from the enrolled secret (one step of clock
 * skew accepted, two refused, a used code refused), single-use recovery codes, the
 * 'all' policy forcing enrolment at sign-in, and tenant isolation of secrets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { authorization, codeAt, createUser, enrolTotp, finish, mfaAction, open, passwordStep, setSecurity, submit } from './support/mfa.ts';
import { runAsTenant } from '../src/core/request-context.ts';

const LOA1 = 'urn:atrium:loa:1';
const LOA2 = 'urn:atrium:loa:2';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let strict: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  strict = await createTenantFixture(t, 'strict');
});
after(() => t?.stop());

describe('TOTP enrolment and sign-in', () => {
  it('enrols with a QR code and a real code, and shows ten recovery codes once', async () => {
    const user = await createUser(t, acme, 'enrol');
    const { codes, accountHtml } = await enrolTotp(acme.issuer, user);
    assert.equal(codes.length, 10);
    assert.equal(new Set(codes).size, 10);
    assert.match(accountHtml, /data-totp-status="on"/);
    assert.match(accountHtml, /data-recovery-left="10"/);
    assert.doesNotMatch(accountHtml, new RegExp(codes[0]!), 'recovery codes are not shown again');
    const audit = await t.api('GET', `/tenants/acme/audit?action=user.mfa.totp_enrolled`);
    assert.ok(audit.body.events.some((e: { target: string }) => e.target === user.id), JSON.stringify(audit.body));
  });

  it('refuses a wrong confirmation code at enrolment', async () => {
    const user = await createUser(t, acme, 'enrol-wrong');
    const { signInToConsole } = await import('./support/console.ts');
    const signedIn = await signInToConsole(acme.issuer, user);
    assert.equal((await signedIn.browser.postForm(`${acme.issuer}/account/mfa/totp`, { csrf: hiddenInput(signedIn.html, 'csrf') })).status, 303);
    const page = await (await signedIn.browser.request(`${acme.issuer}/account/mfa/totp`)).text();
    const reload = await signedIn.browser.request(`${acme.issuer}/account/mfa/totp`);
    assert.equal(reload.status, 303, 'post/redirect/get: the enrolment page is shown once; a reload goes back to /account');
    assert.equal(reload.headers.get('location'), '/account');
    await reload.body?.cancel();
    const secret = /data-totp-secret>([A-Z2-7]+)</.exec(page)![1]!;
    const wrong = await signedIn.browser.postForm(`${acme.issuer}/account/mfa/totp/confirm`, { csrf: hiddenInput(page, 'csrf'), code: codeAt(secret, -3) });
    assert.equal(wrong.status, 400);
    assert.match(await wrong.text(), /not valid/);
    const account = await (await signedIn.browser.request(`${acme.issuer}/account`)).text();
    assert.match(account, /data-totp-status="off"/);
  });

  it('asks for the code after the password; one step of skew passes, two do not; acr/amr say MFA', async () => {
    const user = await createUser(t, acme, 'skew');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const auth = await authorization(acme);
    const mfa = await passwordStep(browser, auth, user);
    assert.match(mfa.url.pathname, /^\/interaction\/[^/]+\/mfa$/);
    assert.match(mfa.html, /name="code"/);

    const wrong = await submit(browser, mfa, mfaAction(mfa, 'totp'), { code: '000000' === codeAt(secret, 1) ? '111111' : '000000' });
    assert.equal(wrong.status, 401);
    const twoBehind = await submit(browser, wrong, mfaAction(mfa, 'totp'), { code: codeAt(secret, -2) });
    assert.equal(twoBehind.status, 401, 'two steps of skew are refused');
    const twoAhead = await submit(browser, twoBehind, mfaAction(mfa, 'totp'), { code: codeAt(secret, 2) });
    assert.equal(twoAhead.status, 401, 'two steps ahead are refused');
    const oneAhead = await submit(browser, twoAhead, mfaAction(mfa, 'totp'), { code: codeAt(secret, 1) });
    const { claims } = await finish(browser, auth, oneAhead);
    assert.equal(claims.sub, user.id);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.acr, LOA2);
  });

  it('never accepts the same code twice', async () => {
    const user = await createUser(t, acme, 'replay');
    const { secret } = await enrolTotp(acme.issuer, user);
    const code = codeAt(secret, 1);
    const first = new TestBrowser();
    const auth1 = await authorization(acme);
    const mfa1 = await passwordStep(first, auth1, user);
    await finish(first, auth1, await submit(first, mfa1, mfaAction(mfa1, 'totp'), { code }));
    const second = new TestBrowser();
    const mfa2 = await passwordStep(second, await authorization(acme), user);
    const replay = await submit(second, mfa2, mfaAction(mfa2, 'totp'), { code });
    assert.equal(replay.status, 401);
  });

  it('takes each recovery code once', async () => {
    const user = await createUser(t, acme, 'recovery');
    const { codes } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const auth = await authorization(acme);
    const mfa = await passwordStep(browser, auth, user);
    assert.match(mfa.html, /\/mfa\/recovery"/);
    const { claims } = await finish(browser, auth, await submit(browser, mfa, mfaAction(mfa, 'recovery'), { code: codes[3]!.toUpperCase() }));
    assert.deepEqual(claims.amr, ['pwd', 'otp']);

    const again = new TestBrowser();
    const mfa2 = await passwordStep(again, await authorization(acme), user);
    const reused = await submit(again, mfa2, mfaAction(mfa2, 'recovery'), { code: codes[3]! });
    assert.equal(reused.status, 401);
    assert.match(reused.html, /already been used/);
    const other = await submit(again, reused, mfaAction(mfa2, 'recovery'), { code: codes[4]! });
    assert.ok(other.url.href.startsWith('https://rp.example.test/callback') || /\/confirm"/.test(other.html), `another code still works: ${other.status}`);
  });

  it('signs in users without MFA with the password alone, at the single-factor level', async () => {
    const browser = new TestBrowser();
    const auth = await authorization(acme);
    const { claims } = await finish(browser, auth, await passwordStep(browser, auth, acme));
    assert.deepEqual(claims.amr, ['pwd']);
    assert.equal(claims.acr, LOA1);
  });

  it('refuses a code without the interaction (no pending sign-in) and without CSRF', async () => {
    const user = await createUser(t, acme, 'csrf');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const mfa = await passwordStep(browser, await authorization(acme), user);
    const forged = await browser.postForm(new URL(mfaAction(mfa, 'totp'), mfa.url), { csrf: 'forged', code: codeAt(secret, 1) });
    assert.equal(forged.status, 403);
    assert.match(await forged.text(), /The form has expired/);
    // The same refusal on a French page, in French; the API-style description stays English.
    const forgedFr = await browser.postForm(new URL(mfaAction(mfa, 'totp'), mfa.url), { csrf: 'forged', code: codeAt(secret, 1) }, { 'accept-language': 'fr' });
    assert.equal(forgedFr.status, 403);
    assert.match(await forgedFr.text(), /Le formulaire a expiré/);
    const forgedJson = await browser.postForm(new URL(mfaAction(mfa, 'totp'), mfa.url), { csrf: 'forged', code: codeAt(secret, 1) }, { 'accept-language': 'fr', accept: 'application/json' });
    assert.equal(((await forgedJson.json()) as { error_description: string }).error_description, 'The form has expired. Go back and try again.');
    // Another browser (no interaction cookie) has no sign-in to finish.
    const stranger = await new TestBrowser().postForm(new URL(mfaAction(mfa, 'totp'), mfa.url), { csrf: hiddenInput(mfa.html, 'csrf'), code: codeAt(secret, 1) });
    assert.equal(stranger.status, 400);
    assert.match(await stranger.text(), /expired or was opened in another browser/);
    const strangerFr = await new TestBrowser().postForm(new URL(mfaAction(mfa, 'totp'), mfa.url), { csrf: hiddenInput(mfa.html, 'csrf'), code: codeAt(secret, 1) }, { 'accept-language': 'fr' });
    assert.match(await strangerFr.text(), /a expiré ou a été ouverte dans un autre navigateur/);
  });
});

describe('malformed answers at the second factor', () => {
  it('refuses a passkey answer that is not one, and over-long codes, with the page again rather than a 500', async () => {
    // At strict: acme's sign-ins per IP per minute are needed by the other tests.
    const user = await createUser(t, strict, 'malformed');
    const { secret } = await enrolTotp(strict.issuer, user);
    const browser = new TestBrowser();
    const auth = await authorization(strict);
    let step = await passwordStep(browser, auth, user);
    // Six refusals, two more below, then the right code: within the ten attempts per account.
    for (const response of ['', 'not json', 'null', '{}', '{"id":["x"]}', JSON.stringify({ id: 'unknown', rawId: 'unknown', type: 'public-key', response: {} })]) {
      step = await submit(browser, step, mfaAction(step, 'passkey'), { response });
      assert.equal(step.status, 401, `response ${response.slice(0, 30)}`);
    }
    step = await submit(browser, step, mfaAction(step, 'totp'), { code: '1'.repeat(5000) });
    assert.equal(step.status, 401);
    step = await submit(browser, step, mfaAction(step, 'recovery'), { code: 'x'.repeat(5000) });
    assert.equal(step.status, 401);
    const { claims } = await finish(browser, auth, await submit(browser, step, mfaAction(step, 'totp'), { code: codeAt(secret, 1) }));
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
  });
});

describe('enrolment at sign-in', () => {
  it('is refused to a user who already has a factor (no way around proving it)', async () => {
    const user = await createUser(t, acme, 'has-one');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const mfa = await passwordStep(browser, await authorization(acme), user);
    const enrol = await submit(browser, mfa, mfaAction(mfa, 'enrol/totp'), { code: codeAt(secret, 1) });
    assert.equal(enrol.status, 400);
    const passkey = await browser.postForm(new URL(mfaAction(mfa, 'totp').replace(/totp$/, 'enrol/passkey'), mfa.url), { csrf: hiddenInput(mfa.html, 'csrf'), response: '{}' });
    assert.equal(passkey.status, 400);
  });
});

describe('attempt limits', () => {
  it('refuses codes past ten attempts per account, even the right one', async () => {
    const user = await createUser(t, acme, 'guesser');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    let step = await passwordStep(browser, await authorization(acme), user);
    const action = mfaAction(step, 'totp');
    const valid = new Set([-1, 0, 1].map((o) => codeAt(secret, o)));
    let guess = 100000;
    for (let i = 0; i < 10; i++) {
      while (valid.has(String(guess))) guess++;
      step = await submit(browser, step, action, { code: String(guess++) });
      assert.equal(step.status, 401);
    }
    const limited = await submit(browser, step, action, { code: codeAt(secret, 1) });
    assert.equal(limited.status, 429);
    assert.match(limited.html, /Too many attempts/);
  });
});

describe('policy', () => {
  it("'all' makes a user without MFA enrol before the sign-in completes", async () => {
    await setSecurity(t, 'strict', { mfa: { required: 'all' } });
    const browser = new TestBrowser();
    const auth = await authorization(strict);
    const enrol = await passwordStep(browser, auth, strict);
    assert.match(enrol.url.pathname, /\/mfa$/);
    assert.match(enrol.html, /<svg/);
    const secret = /data-totp-secret>([A-Z2-7]+)</.exec(enrol.html)![1]!;
    // Leaving without enrolling does not sign in: the page stays until a factor is set up.
    const wrong = await submit(browser, enrol, mfaAction(enrol, 'enrol/totp'), { code: codeAt(secret, 3) });
    assert.equal(wrong.status, 401);
    const codes = await submit(browser, wrong, mfaAction(enrol, 'enrol/totp'), { code: codeAt(secret) });
    assert.equal(codes.status, 200);
    assert.equal([...codes.html.matchAll(/<li><code>/g)].length, 10);
    const { claims } = await finish(browser, auth, await submit(browser, codes, mfaAction(enrol, 'continue'), {}));
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
    assert.equal(claims.acr, LOA2);
  });

  it("'admins' asks admins only", async () => {
    await setSecurity(t, 'globex', { mfa: { required: 'admins' } });
    const admin = await createUser(t, globex, 'boss', { roles: ['admin'] });
    const adminStep = await passwordStep(new TestBrowser(), await authorization(globex), admin);
    assert.match(adminStep.url.pathname, /\/mfa$/);
    const member = await createUser(t, globex, 'member', { roles: ['member'] });
    const browser = new TestBrowser();
    const auth = await authorization(globex);
    const { claims } = await finish(browser, auth, await passwordStep(browser, auth, member));
    assert.deepEqual(claims.amr, ['pwd']);
    await setSecurity(t, 'globex', { mfa: { required: 'off' } });
  });
});

describe('tenant isolation', () => {
  it("a TOTP secret of one tenant never works at another, even copied into the other's rows", async () => {
    const a = await createUser(t, acme, 'twin');
    const b = await createUser(t, globex, 'twin');
    const { secret: secretA } = await enrolTotp(acme.issuer, a);
    const { secret: secretB } = await enrolTotp(globex.issuer, b);
    assert.notEqual(secretA, secretB);

    const browser = new TestBrowser();
    const mfa = await passwordStep(browser, await authorization(globex), b);
    const withA = await submit(browser, mfa, mfaAction(mfa, 'totp'), { code: codeAt(secretA, 1) });
    assert.equal(withA.status, 401, "tenant A's code is refused at tenant B");

    // Copy A's sealed secret over B's row: sealed for tenant A and user A, it does not open at B.
    const db = t.atrium.services.db;
    const tenantA = (await t.api('GET', '/tenants/acme')).body.id as string;
    const tenantB = (await t.api('GET', '/tenants/globex')).body.id as string;
    const sealed = await runAsTenant(tenantA, () => db.withTenant((q) => q.query<{ secret_sealed: string }>('SELECT secret_sealed FROM mfa_totp WHERE user_id = $1', [a.id])));
    await runAsTenant(tenantB, () => db.withTenant((q) => q.query('UPDATE mfa_totp SET secret_sealed = $1 WHERE user_id = $2', [sealed.rows[0]!.secret_sealed, b.id])));
    const copied = await submit(browser, withA, mfaAction(mfa, 'totp'), { code: codeAt(secretA, 1) });
    assert.equal(copied.status, 401, 'a sealed secret copied across tenants does not verify');
    // And A's rows are invisible from B's context (row-level security).
    const seen = await runAsTenant(tenantB, () => db.withTenant((q) => q.query('SELECT 1 FROM mfa_totp WHERE user_id = $1', [a.id])));
    assert.equal(seen.rows.length, 0);
  });

  it("an interaction's MFA step is not reachable on another tenant's host", async () => {
    const user = await createUser(t, acme, 'host');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const mfa = await passwordStep(browser, await authorization(acme), user);
    const elsewhere = await open(browser, new URL(mfa.url.pathname, globex.issuer));
    assert.equal(elsewhere.status, 400);
    const post = await browser.postForm(new URL(mfaAction(mfa, 'totp'), globex.issuer), { csrf: 'x', code: codeAt(secret, 1) });
    assert.ok(post.status === 400 || post.status === 403, String(post.status));
  });
});
