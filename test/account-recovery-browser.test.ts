/**
 * The account pages in Chromium, as a person on a phone uses them, without JavaScript
 * help and under the content security policy: "Create an account" on the login page →
 * signup → the verification mail → confirm → back into the same sign-in; then "Forgot
 * password?" → the reset mail → a new password → signed in with it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, startCallbackServer, watchCspViolations } from './support/browser.ts';
import { SmtpSink } from './support/smtp-sink.ts';
import { setSecurity } from './support/account-security.ts';

const SKIP = chromiumMissing();

let t: TestAtrium | undefined;
let sink: SmtpSink | undefined;
let browser: Browser | undefined;
let rp: Awaited<ReturnType<typeof startCallbackServer>> | undefined;
let acme: TenantFixture;
let clientId: string;

before(async () => {
  if (SKIP) return;
  sink = await SmtpSink.start();
  t = await startTestAtrium({ SMTP_URL: sink.url });
  acme = await createTenantFixture(t, 'acme');
  await setSecurity(t, 'acme', { signup: { mode: 'open' } });
  rp = await startCallbackServer();
  const created = await t.api('POST', '/tenants/acme/clients', { client_name: 'acme app', redirect_uris: [rp.redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'none' });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  clientId = created.body.client_id;
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rp?.close();
  await t?.stop();
  await sink?.stop();
});

function authorizationUrl(): string {
  const url = new URL(`${acme.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: clientId, redirect_uri: rp!.redirectUri, response_type: 'code', scope: 'openid', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', state: 'st' }).toString();
  return url.href;
}

describe('account pages in Chromium', { skip: SKIP }, () => {
  it('signs up, confirms the email from the mail, and continues the same sign-in', async () => {
    const context = await browser!.newContext({ ...PHONE, javaScriptEnabled: false });
    const page = await context.newPage();
    const csp = watchCspViolations(page);
    await page.goto(authorizationUrl());
    await page.getByRole('link', { name: 'Create an account' }).click();
    await page.getByLabel('Name').fill('Rosa');
    await page.getByLabel('Email').fill('rosa@acme.test');
    await page.getByLabel('Password').fill('roses are red 1234');
    await page.getByRole('button', { name: 'Create account' }).click();
    await page.getByRole('heading', { name: 'Check your inbox' }).waitFor();
    const mail = await sink!.waitFor('rosa@acme.test');
    await page.goto(mail.links[0]!);
    await page.getByRole('button', { name: 'Confirm my email address' }).click();
    await page.getByRole('heading', { name: 'Your account is ready' }).waitFor();
    await page.getByRole('link', { name: 'Continue to sign in' }).click();
    await page.getByLabel('Email').fill('rosa@acme.test');
    await page.getByLabel('Password').fill('roses are red 1234');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('form[action$="/confirm"] button[type=submit]').click();
    await page.waitForURL((u) => u.href.startsWith(rp!.redirectUri));
    assert.ok(new URL(page.url()).searchParams.get('code'));
    assert.deepEqual(csp, []);
    await context.close();
  });

  it('resets a forgotten password from the login page and signs in with the new one', async () => {
    const context = await browser!.newContext({ ...PHONE, locale: 'fr-FR' });
    const page = await context.newPage();
    const csp = watchCspViolations(page);
    await page.goto(authorizationUrl());
    await page.getByRole('link', { name: 'Mot de passe oublié ?' }).click();
    await page.getByLabel('E-mail').fill(acme.email);
    await page.getByRole('button', { name: 'Envoyer le lien' }).click();
    await page.getByRole('heading', { name: 'Consultez votre boîte de réception' }).waitFor();
    const mail = await sink!.waitFor(acme.email);
    assert.match(mail.subject, /Réinitialisez/);
    await page.goto(mail.links[0]!);
    await page.getByLabel('Nouveau mot de passe', { exact: true }).fill('a fresh french passphrase');
    await page.getByLabel('Confirmez le nouveau mot de passe').fill('a fresh french passphrase');
    await page.getByRole('button', { name: 'Changer mon mot de passe' }).click();
    await page.getByRole('heading', { name: 'Votre mot de passe a été modifié' }).waitFor();
    await page.goto(authorizationUrl());
    await page.getByLabel('E-mail').fill(acme.email);
    await page.getByLabel('Mot de passe', { exact: true }).fill('a fresh french passphrase');
    await page.locator('form[action$="/login"] button[type=submit]').click();
    await page.locator('form[action$="/confirm"] button[type=submit]').click();
    await page.waitForURL((u) => u.href.startsWith(rp!.redirectUri));
    assert.ok(new URL(page.url()).searchParams.get('code'));
    assert.deepEqual(csp, []);
    await context.close();
  });
});
