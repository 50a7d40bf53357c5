/**
 * acr/amr and step-up: the levels are advertised in discovery; a client's acr_values
 * naming the MFA level force a second factor even over a session signed in with a
 * password only, without asking for the password again; the claims are checked in the
 * ID token with openid-client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, type TenantFixture } from './support/fixtures.ts';
import { TestBrowser } from './support/http-client.ts';
import { authorization, codeAt, createUser, enrolTotp, finish, mfaAction, open, passwordStep, submit } from './support/mfa.ts';

const LOA1 = 'urn:atrium:loa:1';
const LOA2 = 'urn:atrium:loa:2';

let t: TestAtrium;
let acme: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
});
after(() => t?.stop());

describe('acr and step-up', () => {
  it('advertises the acr values in discovery', async () => {
    const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    assert.deepEqual(config.serverMetadata().acr_values_supported, [LOA1, LOA2]);
  });

  it('steps a password-only session up to MFA with acr_values, without asking for the password again', async () => {
    const user = await createUser(t, acme, 'stepper');
    // Signed in with the password only (no MFA yet); the same browser then enrols an app.
    const { secret, browser } = await enrolTotp(acme.issuer, user);

    const plainAuth = await authorization(acme);
    const plain = await finish(browser, plainAuth, await open(browser, plainAuth.url));
    assert.equal(plain.claims.acr, LOA1, 'the existing session is single-factor');
    assert.deepEqual(plain.claims.amr, ['pwd']);

    const auth = await authorization(acme, { acr_values: LOA2 });
    const mfa = await open(browser, auth.url);
    assert.match(mfa.url.pathname, /\/mfa$/, `step-up goes to the second factor, got ${mfa.url.href}`);
    assert.doesNotMatch(mfa.html, /name="password"/);
    const { claims } = await finish(browser, auth, await submit(browser, mfa, mfaAction(mfa, 'totp'), { code: codeAt(secret, 1) }));
    assert.equal(claims.sub, user.id);
    assert.equal(claims.acr, LOA2);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);

    // The session is now multi-factor: asking again needs nothing more.
    const again = await authorization(acme, { acr_values: LOA2 });
    const silent = await finish(browser, again, await open(browser, again.url));
    assert.equal(silent.claims.acr, LOA2);
  });

  it('accepts a single-factor session when the client accepts either level', async () => {
    const browser = new TestBrowser();
    const first = await authorization(acme);
    await finish(browser, first, await passwordStep(browser, first, acme));
    const auth = await authorization(acme, { acr_values: `${LOA1} ${LOA2}` });
    const { claims } = await finish(browser, auth, await open(browser, auth.url));
    assert.equal(claims.acr, LOA1);
  });

  it('asks a user without MFA to enrol when the client asks for the MFA level', async () => {
    const user = await createUser(t, acme, 'no-mfa');
    const browser = new TestBrowser();
    const auth = await authorization(acme, { acr_values: LOA2 });
    const enrol = await passwordStep(browser, auth, user);
    assert.match(enrol.url.pathname, /\/mfa$/);
    const secret = /data-totp-secret>([A-Z2-7]+)</.exec(enrol.html)![1]!;
    const codes = await submit(browser, enrol, mfaAction(enrol, 'enrol/totp'), { code: codeAt(secret) });
    const { claims } = await finish(browser, auth, await submit(browser, codes, mfaAction(enrol, 'continue'), {}));
    assert.equal(claims.acr, LOA2);
    assert.deepEqual(claims.amr, ['pwd', 'otp']);
  });

  it('asks for the second factor at once when a signed-out user comes with acr_values', async () => {
    const user = await createUser(t, acme, 'direct');
    const { secret } = await enrolTotp(acme.issuer, user);
    const browser = new TestBrowser();
    const auth = await authorization(acme, { acr_values: LOA2, prompt: 'login' });
    const mfa = await passwordStep(browser, auth, user);
    const { claims } = await finish(browser, auth, await submit(browser, mfa, mfaAction(mfa, 'totp'), { code: codeAt(secret, 1) }));
    assert.equal(claims.acr, LOA2);
  });
});
