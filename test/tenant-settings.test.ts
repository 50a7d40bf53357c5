/**
 * The effects of per-tenant settings that no feature's own test file shows (issue 13,
 * item 1; the registry is test/support/setting-effects.ts): languages, the rest of the
 * branding, second-factor switches, token and session lifetimes, SMTP over TLS. Each test
 * sets the field through the management API and looks at what a user or client gets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import * as oidc from 'openid-client';
import { decodeJwt } from 'jose';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { createUser } from './support/mfa.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  [acme, globex] = await Promise.all([createTenantFixture(t, 'acme'), createTenantFixture(t, 'globex')]);
});
after(() => t?.stop());

async function put(slug: string, section: string, body: unknown): Promise<void> {
  const res = await t.api('PUT', `/tenants/${slug}/config/${section}`, body);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** The login page of a tenant as a browser gets it (through /account), with optional request headers. */
async function loginPage(f: TenantFixture, headers: Record<string, string> = {}): Promise<string> {
  const browser = new TestBrowser();
  const step = await browser.follow(`${f.issuer}/account`);
  await step.res.body?.cancel();
  return (await browser.request(step.url, { headers })).text();
}

describe('application', () => {
  it('application.default_locale picks the language of a browser that states none, and available_locales limits what a browser can get', async () => {
    assert.match(await loginPage(acme), /<html lang="en">/, 'English by default');
    await put('acme', 'application', { default_locale: 'fr', available_locales: ['fr', 'en'] });
    const french = await loginPage(acme);
    assert.match(french, /<html lang="fr">/);
    assert.match(french, /Mot de passe/);
    assert.match(await loginPage(globex), /<html lang="en">/, "another tenant keeps its own default");
    assert.match(await loginPage(acme, { 'accept-language': 'en' }), /<html lang="en">/, 'a stated language still wins');

    await put('acme', 'application', { available_locales: ['en'] });
    const onlyEnglish = await loginPage(acme, { 'accept-language': 'fr-FR,fr;q=0.9' });
    assert.match(onlyEnglish, /<html lang="en">/, 'French is no longer offered');
    assert.match(await loginPage(globex, { 'accept-language': 'fr-FR,fr;q=0.9' }), /<html lang="fr">/, 'the same browser gets French at another tenant');
    await put('acme', 'application', {});
  });
});

describe('branding', () => {
  it('branding: the favicon and the dark logo reach the page head, the heading font and every colour reach /branding.css', async () => {
    await put('acme', 'branding', {
      favicon: 'https://cdn.example/acme.ico',
      logos: { light: 'https://cdn.example/light.svg', dark: 'https://cdn.example/dark.svg' },
      fonts: { heading: 'Playfair Display' },
      colors: {
        light: { secondary: '#111111', background: '#fafafa', text: '#222222' },
        dark: { secondary: '#333333', background: '#000000', text: '#eeeeee' },
      },
    });
    const html = await loginPage(acme);
    assert.match(html, /<link rel="icon" href="https:\/\/cdn\.example\/acme\.ico">/);
    assert.match(html, /<source srcset="https:\/\/cdn\.example\/dark\.svg" media="\(prefers-color-scheme: dark\)">/);
    assert.match(html, /<img class="brand-logo" src="https:\/\/cdn\.example\/light\.svg"/);
    const css = await (await httpFetch(`${acme.issuer}/branding.css?v=${Date.now()}`)).text();
    const [light, dark] = [/^:root \{([^}]*)\}/m.exec(css)?.[1] ?? '', /prefers-color-scheme: dark\) \{ :root \{([^}]*)\}/.exec(css)?.[1] ?? ''];
    assert.match(light, /--secondary: #111111;/);
    assert.match(light, /--bg: #fafafa;/);
    assert.match(light, /--fg: #222222;/);
    assert.match(dark, /--secondary: #333333;/);
    assert.match(dark, /--bg: #000000;/);
    assert.match(dark, /--fg: #eeeeee;/);
    assert.match(css, /h1, h2, h3, \.brand \{ font-family: "Playfair Display"/);
    const other = await loginPage(globex);
    assert.doesNotMatch(other, /cdn\.example/, "another tenant's pages are untouched");
    assert.match(other, /<link rel="icon" href="\/favicon\.ico">/, 'another tenant keeps the default favicon');
    await put('acme', 'branding', {});
  });
});

describe('second factors', () => {
  it('security.mfa.totp_enabled false takes the authenticator app off the account page and refuses its enrolment', async () => {
    const user = await createUser(t, globex, 'no-app');
    const before = await signInToConsole(globex.issuer, user);
    assert.match(before.html, /data-totp-status="off"/, 'offered while enabled');
    await put('globex', 'security', { mfa: { totp_enabled: false } });
    const { browser, html } = await signInToConsole(globex.issuer, user);
    assert.doesNotMatch(html, /data-totp-status|action="\/account\/mfa\/totp"/);
    const start = await browser.postForm(`${globex.issuer}/account/mfa/totp`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(start.status, 404, await start.text());
    const elsewhere = await signInToConsole(acme.issuer, acme);
    assert.match(elsewhere.html, /data-totp-status="off"/, 'another tenant still offers it');
    await put('globex', 'security', {});
  });

  it('security.webauthn.enabled false offers no passkey, and user_verification reaches the passkey options', async () => {
    const user = await createUser(t, globex, 'keys');
    const options = (html: string) => {
      const raw = /data-webauthn="create" data-options="([^"]*)"/.exec(html)?.[1];
      return raw === undefined ? undefined : JSON.parse(raw.replace(/&#34;/g, '"').replace(/&amp;/g, '&')) as { authenticatorSelection?: { userVerification?: string } };
    };
    assert.equal(options((await signInToConsole(globex.issuer, user)).html)?.authenticatorSelection?.userVerification, 'preferred', 'the default');
    await put('globex', 'security', { webauthn: { user_verification: 'required' } });
    assert.equal(options((await signInToConsole(globex.issuer, user)).html)?.authenticatorSelection?.userVerification, 'required');
    await put('globex', 'security', { webauthn: { enabled: false } });
    const { html } = await signInToConsole(globex.issuer, user);
    assert.equal(options(html), undefined, 'no passkey form');
    assert.doesNotMatch(html, /action="\/account\/mfa\/passkeys"/);
    assert.ok(options((await signInToConsole(acme.issuer, acme)).html), 'another tenant still offers passkeys');
    await put('globex', 'security', {});
  });
});

describe('lifetimes', () => {
  it('oidc.id_token_ttl, refresh_token_ttl and session_ttl set the lifetimes of the ID token, the refresh token and the sign-in session', async () => {
    await put('acme', 'oidc', { id_token_ttl: 700, refresh_token_ttl: 5000, session_ttl: 4000 });
    const auth = await authorizationRequest(acme.issuer, acme, { scope: 'openid offline_access', prompt: 'consent' });
    const browser = new TestBrowser();
    const sessionCookies: string[] = [];
    const store = browser.store.bind(browser);
    browser.store = (url, res) => {
      sessionCookies.push(...res.headers.getSetCookie().filter((line) => /^(__Host-)?atrium\.acme\.session=[^;]+/.test(line)));
      store(url, res);
    };
    const signedInAt = Date.now();
    const { callback } = await signInThroughPages(auth.url, acme, browser);
    const tokens = await oidc.authorizationCodeGrant(auth.config, callback, { pkceCodeVerifier: auth.verifier, expectedState: auth.state, expectedNonce: auth.nonce, idTokenExpected: true });
    const idToken = decodeJwt(tokens.id_token!);
    assert.equal(idToken.exp! - idToken.iat!, 700);
    assert.ok(tokens.refresh_token);
    const refresh = await oidc.tokenIntrospection(auth.config, tokens.refresh_token);
    assert.equal(refresh.active, true);
    assert.equal(refresh.exp! - refresh.iat!, 5000);
    const cookie = sessionCookies.at(-1);
    assert.ok(cookie, 'the sign-in set a session cookie');
    const expires = Date.parse(/expires=([^;]+)/i.exec(cookie)![1]!);
    assert.ok(Math.abs(expires - (signedInAt + 4000_000)) < 60_000, `the session cookie lasts ~4000 s: ${cookie}`);

    // Another tenant's tokens keep the defaults.
    const other = await authorizationRequest(globex.issuer, globex);
    const otherTokens = await oidc.authorizationCodeGrant(other.config, (await signInThroughPages(other.url, globex)).callback, { pkceCodeVerifier: other.verifier, expectedState: other.state, expectedNonce: other.nonce, idTokenExpected: true });
    const otherId = decodeJwt(otherTokens.id_token!);
    assert.notEqual(otherId.exp! - otherId.iat!, 700);
    await put('acme', 'oidc', {});
  });
});

/** A TCP listener that greets like an SMTP server and keeps the first bytes each client sends. */
async function firstBytesListener(): Promise<{ port: number; next(): Promise<Buffer>; close(): Promise<void> }> {
  const chunks: Buffer[] = [];
  const waiters: (() => void)[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write('220 sink.test ESMTP\r\n');
    socket.once('data', (data) => {
      chunks.push(data);
      waiters.splice(0).forEach((wake) => wake());
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  let read = 0;
  return {
    port: (server.address() as net.AddressInfo).port,
    async next() {
      const deadline = Date.now() + 10_000;
      while (chunks.length <= read) {
        assert.ok(Date.now() < deadline, 'no connection reached the listener');
        await new Promise<void>((resolve) => { waiters.push(resolve); setTimeout(resolve, 200); });
      }
      return chunks[read++]!;
    },
    close: () => new Promise<void>((resolve) => { sockets.forEach((s) => s.destroy()); server.close(() => resolve()); }),
  };
}

describe('integrations', () => {
  it("integrations.smtp.secure true opens the tenant's SMTP connection with TLS from the first byte, false speaks plain SMTP", async () => {
    const listener = await firstBytesListener();
    try {
      const invite = async (email: string) => assert.equal((await t.api('POST', '/tenants/acme/invitations', { email })).status, 201);
      await put('acme', 'integrations', { smtp: { host: '127.0.0.1', port: listener.port, from: 'mail@acme.test', secure: true } });
      await invite('tls@acme.test');
      const tls = await listener.next();
      assert.equal(tls[0], 0x16, 'a TLS handshake record');
      assert.equal(tls[1], 0x03, 'of TLS version 3.x');

      await put('acme', 'integrations', { smtp: { host: '127.0.0.1', port: listener.port, from: 'mail@acme.test', secure: false } });
      await invite('plain@acme.test');
      assert.match((await listener.next()).toString('latin1'), /^EHLO /, 'plain SMTP: the client answers the greeting');
    } finally {
      await put('acme', 'integrations', {});
      await listener.close();
    }
  });
});
