/**
 * On an https issuer every cookie Atrium sets is Secure and prefixed (issue 19, item 5):
 * `__Host-` (Secure, Path=/, no Domain) for a cookie at the root, `__Secure-` for one
 * scoped to a narrower path (oidc-provider's interaction and resume cookies, the federation
 * cookie; `__Host-` cannot have a path). Checked on every Set-Cookie of a sign-in journey,
 * console login and logout, the forms, hand-off, demo and federation cookies, and an
 * RP-initiated logout; cleared cookies carry the attributes they were set with, or a
 * browser keeps them. The requests arrive over plain http, as from a proxy ending TLS.
 */
import { after, before, it } from 'node:test';
import type { Response } from 'undici';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, pinnedAgent, TestBrowser } from './support/http-client.ts';
import { pressConnection } from './support/federation-flow.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';

/** A browser that keeps every Set-Cookie line it was sent. */
class RecordingBrowser extends TestBrowser {
  readonly lines: { url: string; line: string }[] = [];
  override store(url: URL, res: Response): void {
    for (const line of res.headers.getSetCookie()) this.lines.push({ url: url.href, line });
    super.store(url, res);
  }
}

let t: TestAtrium;
let acme: TenantFixture;
let plain: PlainProvider;
let issuer: string;

before(async () => {
  t = await startTestAtrium({ PUBLIC_URL: 'https://localhost:{port}', ATRIUM_DEMO: 'true' });
  acme = await createTenantFixture(t, 'acme');
  issuer = `https://acme.localhost:${t.port}`;
  plain = await startPlainProvider({ redirectUris: [`${issuer}/federation/callback`] });
  const res = await t.api('PUT', '/tenants/acme/federation/plain', { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
});
after(async () => {
  await t?.stop();
  await plain?.close();
});

function authUrl(): URL {
  const url = new URL(`${issuer}/auth`);
  const verifier = randomBytes(32).toString('base64url');
  url.search = new URLSearchParams({
    client_id: acme.clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: 'openid email',
    state: randomBytes(8).toString('hex'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return url;
}

/** The cookie's name and attributes, lower-cased keys. */
function parse(line: string): { name: string; attrs: Map<string, string> } {
  const [pair, ...rest] = line.split(';');
  const attrs = new Map(rest.map((a) => a.trim().split('=')).map(([k, v]) => [k!.toLowerCase(), v ?? ''] as [string, string]));
  return { name: pair!.slice(0, pair!.indexOf('=')).trim(), attrs };
}

it('sets and clears every cookie Secure and __Host- (or __Secure- when path-scoped) on an https issuer', async () => {
  const browser = new RecordingBrowser(pinnedAgent(t.port));
  // The discovery document names the https issuer: this tenant really is served as https.
  const doc = (await (await browser.request(`${issuer}/.well-known/openid-configuration`, { headers: { accept: 'application/json' } })).json()) as { issuer: string };
  assert.equal(doc.issuer, issuer);

  // A sign-in journey: interaction, resume and session cookies.
  const signedIn = await signInThroughPages(authUrl(), { email: acme.email, password: acme.password }, browser);
  assert.ok(signedIn.callback.href.startsWith(REDIRECT_URI), signedIn.callback.href);

  // Console login (its pending-login cookie, then the console session) and logout.
  const account = await browser.follow(`${issuer}/account/login`);
  const html = await account.res.text();
  assert.equal(account.res.status, 200, html.slice(0, 300));
  assert.equal(account.url.pathname, '/account');
  const out = await browser.postForm(`${issuer}/account/logout`, { csrf: hiddenInput(html, 'csrf') });
  assert.equal(out.status, 303, await out.text());

  // The forms' CSRF cookie, the hand-off binding cookie and the demo's.
  assert.equal((await browser.request(`${issuer}/password/forgot`)).status, 200);
  assert.equal((await browser.request(`${issuer}/account/handoff/start`)).status, 302);
  assert.equal((await browser.request(`${issuer}/demo`)).status, 302);

  // Federation start: the browser's federation cookie.
  const login = await browser.follow(authUrl());
  const loginHtml = await login.res.text();
  const pressed = await pressConnection(browser, { url: login.url, html: loginHtml }, 'plain');
  assert.equal(pressed.status, 303, await pressed.text());

  // RP-initiated logout ends the provider session and clears its cookie.
  const confirm = await browser.request(`${issuer}/session/end?client_id=${encodeURIComponent(acme.clientId)}`);
  const form = await confirm.text();
  assert.equal(confirm.status, 200, form.slice(0, 300));
  const ended = await browser.postForm(new URL(/action="([^"]+)"/.exec(form)![1]!, issuer), { xsrf: hiddenInput(form, 'xsrf'), logout: 'yes' });
  assert.ok(ended.status === 303 || ended.status === 302 || ended.status === 200, String(ended.status));

  const seen = new Set<string>();
  for (const { url, line } of browser.lines) {
    const { name, attrs } = parse(line);
    const where = `${url}: ${line}`;
    assert.ok(attrs.has('secure'), `not Secure: ${where}`);
    assert.ok(!attrs.has('domain'), `has a Domain: ${where}`);
    const path = attrs.get('path') ?? '/';
    if (path === '/') assert.ok(name.startsWith('__Host-'), `not __Host-: ${where}`);
    else assert.ok(name.startsWith('__Secure-'), `path-scoped but not __Secure-: ${where}`);
    seen.add(name.replace(/^__(Host|Secure)-/, '').replace(/\.sig$/, '').replace(/^atrium\.acme\./, ''));
  }
  for (const cookie of ['interaction', 'resume', 'session', 'console-login', 'console', 'forms', 'console-handoff', 'atrium.demo', 'federation']) {
    assert.ok(seen.has(cookie), `no Set-Cookie for ${cookie} (saw ${[...seen].join(', ')})`);
  }
  // Every cookie cleared was cleared under the name, path and attributes it was set with.
  const cleared = browser.lines.map((l) => parse(l.line)).filter((c) => /1970/.test(c.attrs.get('expires') ?? ''));
  for (const name of ['__Host-atrium.acme.console', '__Host-atrium.acme.console-login', '__Host-atrium.acme.session']) {
    assert.ok(cleared.some((c) => c.name === name && c.attrs.has('secure') && (c.attrs.get('path') ?? '/') === '/'), `${name} was not cleared with Secure at Path=/`);
  }
});

it('keeps unprefixed names on an http issuer (development)', async () => {
  const dev = await startTestAtrium();
  try {
    const f = await createTenantFixture(dev, 'acme');
    const browser = new RecordingBrowser();
    await signInThroughPages(new URL(`${f.issuer}/auth?${authUrl().searchParams.toString().replace(acme.clientId, f.clientId)}`), { email: f.email, password: f.password }, browser);
    await browser.follow(`${f.issuer}/account/login`);
    assert.ok(browser.lines.length > 0);
    for (const { line } of browser.lines) {
      const { name, attrs } = parse(line);
      assert.ok(name.startsWith('atrium.'), line);
      assert.ok(!attrs.has('secure'), line);
    }
  } finally {
    await dev.stop();
  }
});
