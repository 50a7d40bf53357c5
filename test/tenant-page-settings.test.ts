/**
 * Settings a user sees on the tenant's own pages: `application.title` and `description`, and
 * the `integrations` links (website, privacy policy, terms) on the sign-in, consent and signup
 * pages, in the tenant's brand. Another tenant shows none of them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

const LINKS = { website_url: 'https://acme.example/', privacy_policy_url: 'https://acme.example/privacy?x=1&y=2', terms_url: 'https://acme.example/terms' };

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  for (const [section, body] of [
    ['integrations', LINKS],
    ['application', { title: 'Acme Workspace', description: 'One account for every Acme tool.' }],
    ['security', { signup: { mode: 'open' } }],
  ] as const) {
    const res = await t.api('PUT', `/tenants/acme/config/${section}`, body);
    assert.equal(res.status, 200, JSON.stringify(res.body));
  }
});
after(() => t?.stop());

/** The login page of a new authorization request, and the browser that holds its cookies. */
async function loginPage(f: TenantFixture) {
  const browser = new TestBrowser();
  const request = await authorizationRequest(f.issuer, f);
  const { url, res } = await browser.follow(request.url);
  return { browser, url, html: await res.text() };
}

const escaped = (s: string) => s.replaceAll('&', '&amp;');

function assertTenantLinks(html: string, page: string): void {
  for (const href of Object.values(LINKS)) assert.ok(html.includes(`href="${escaped(href)}"`), `${page} links ${href}`);
  assert.match(html, /<footer class="tenant-links">/, `${page}: the links sit in the page's footer`);
  assert.ok(!/<a [^>]*href="https:\/\/acme[^"]*"(?![^>]*rel="noopener noreferrer")/.test(html), `${page}: external links open without a referrer or opener`);
}

describe('the tenant\'s own pages', () => {
  it('the sign-in page shows the title, the description and the website, privacy and terms links', async () => {
    const { html } = await loginPage(acme);
    assert.match(html, /<title>[^<]*· Acme Workspace<\/title>/);
    assert.ok(html.includes('One account for every Acme tool.'));
    assertTenantLinks(html, 'sign-in');
  });

  it('the consent page links them too', async () => {
    const { browser, url, html } = await loginPage(acme);
    const base = url.href.replace(/\/$/, '');
    const res = await browser.postForm(`${base}/login`, { csrf: hiddenInput(html, 'csrf'), email: acme.email, password: acme.password });
    assert.equal(res.status, 303);
    const consent = await browser.follow(new URL(res.headers.get('location')!, url), (u) => u.pathname.startsWith('/interaction/'));
    const page = await (await browser.request(consent.url)).text();
    assert.match(page, /name="csrf"/);
    assert.ok(page.includes('consent') || page.includes('Allow'), 'on the consent page');
    assertTenantLinks(page, 'consent');
  });

  it('the signup page links them too', async () => {
    const { browser, url } = await loginPage(acme);
    const signup = await browser.request(`${url.href.replace(/\/$/, '')}/signup`);
    const html = await signup.text();
    assert.equal(signup.status, 200, html.slice(0, 200));
    assertTenantLinks(html, 'signup');
  });

  it('another tenant shows none of them, and an unset title falls back to the brand name', async () => {
    const { html } = await loginPage(globex);
    for (const href of Object.values(LINKS)) assert.ok(!html.includes(escaped(href)));
    assert.ok(!html.includes('One account for every Acme tool.'));
    assert.ok(!html.includes('tenant-links'), 'no empty footer');
    assert.match(html, /<title>[^<]*· globex Inc\.<\/title>/);
  });
});
