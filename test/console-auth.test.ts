/**
 * Atrium's own pages sign in through the tenant's Provider (the first-party console
 * client) and keep a tenant-bound session; branding and language reach every page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

describe('console sign-in', () => {
  it('sends a visitor through the login page and back, with no consent asked', async () => {
    const anonymous = await new TestBrowser().request(`${acme.issuer}/account`);
    assert.equal(anonymous.status, 302);
    assert.match(anonymous.headers.get('location')!, /^\/account\/login\?return_to=%2Faccount$/);
    const { status, html, url } = await signInToConsole(acme.issuer, acme);
    assert.equal(status, 200, html.slice(0, 300));
    assert.equal(url.pathname, '/account');
    assert.match(html, new RegExp(acme.email.replace('.', '\\.')));
  });

  it("refuses another tenant's console cookie", async () => {
    const { browser } = await signInToConsole(acme.issuer, acme);
    const acmeCookies = browser.jar.get(new URL(acme.issuer).host)!;
    const other = new TestBrowser();
    other.jar.set(new URL(globex.issuer).host, new Map([...acmeCookies].map(([k, v]) => [k.replace('acme', 'globex'), v])));
    const res = await other.request(`${globex.issuer}/account`);
    assert.equal(res.status, 302, 'a copied session id is not a session of another tenant');
  });

  it('signs out of the console and of the tenant', async () => {
    const { browser, html } = await signInToConsole(acme.issuer, acme);
    const out = await browser.postForm(`${acme.issuer}/account/logout`, { csrf: hiddenInput(html, 'csrf') });
    assert.equal(out.status, 303);
    const after = await browser.request(`${acme.issuer}/account`);
    assert.equal(after.status, 302);
    // The tenant session is gone too: the next sign-in asks for the password again.
    const step = await browser.follow(`${acme.issuer}/account`);
    assert.match(await step.res.text(), /name="password"/);
  });

  it('refuses a sign-out without the CSRF token', async () => {
    const { browser } = await signInToConsole(acme.issuer, acme);
    const out = await browser.postForm(`${acme.issuer}/account/logout`, { csrf: 'forged' });
    assert.equal(out.status, 403);
    assert.equal((await browser.request(`${acme.issuer}/account`)).status, 200);
  });

  it('refuses a callback with a foreign state or a replayed code', async () => {
    const browser = new TestBrowser();
    const res = await browser.request(`${acme.issuer}/account/callback?code=x&state=y`);
    assert.equal(res.status, 400);
    // Replaying the code the real flow used: the login cookie is gone and the code consumed.
    const start = await browser.follow(`${acme.issuer}/account/login`);
    const page = await start.res.text();
    const posted = await browser.postForm(start.url.href + '/login', { csrf: hiddenInput(page, 'csrf'), email: acme.email, password: acme.password });
    const callback = await browser.follow(new URL(posted.headers.get('location')!, start.url), (u) => u.pathname === '/account/callback');
    assert.equal(callback.url.pathname, '/account/callback');
    assert.equal((await browser.request(callback.url)).status, 302);
    assert.equal((await browser.request(callback.url)).status, 400, 'a code is redeemed once');
  });

  it('only returns to Atrium pages after sign-in', async () => {
    const { url } = await signInToConsole(acme.issuer, acme, '/account/login?return_to=https://evil.example/');
    assert.equal(url.origin, new URL(acme.issuer).origin);
    assert.equal(url.pathname, '/account');
  });
});

describe('branding and language', () => {
  it("serves the tenant's palette and fonts as a stylesheet, safely", async () => {
    const put = await t.api('PUT', '/tenants/acme/config/branding', {
      company_name: 'Acme Rockets',
      colors: { light: { primary: '#ff0000' }, dark: { primary: '#00ff00' } },
      fonts: { body: 'Inter"; } body { background: url(x) }' },
      logos: { light: 'https://cdn.example/acme-light.png' },
    });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const css = await (await httpFetch(`${acme.issuer}/branding.css`)).text();
    assert.match(css, /--primary: #ff0000/);
    assert.match(css, /prefers-color-scheme: dark\) \{ :root \{ --primary: #00ff00/);
    assert.doesNotMatch(css, /url\(|[";]\s*\}\s*body \{ background/, 'a font name cannot inject CSS');
    const other = await (await httpFetch(`${globex.issuer}/branding.css`)).text();
    assert.doesNotMatch(other, /#ff0000/);
    const login = await new TestBrowser().follow(`${acme.issuer}/account`);
    const html = await login.res.text();
    assert.match(html, /Acme Rockets/);
    assert.match(html, /src="https:\/\/cdn\.example\/acme-light\.png"/);
    assert.match(html, /href="\/branding\.css\?v=\d+"/);
  });

  it('renders the login page in French when the browser asks for it', async () => {
    const browser = new TestBrowser();
    const step = await browser.follow(`${globex.issuer}/account`);
    await step.res.body?.cancel();
    const html = await (await browser.request(step.url, { headers: { 'accept-language': 'fr-FR,fr;q=0.9,en;q=0.5' } })).text();
    assert.match(html, /<html lang="fr">/);
    assert.match(html, /Mot de passe/);
    const english = await new TestBrowser().follow(`${globex.issuer}/account`);
    assert.match(await english.res.text(), /Password/);
  });
});
