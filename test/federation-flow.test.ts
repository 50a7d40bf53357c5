/**
 * Bring your own IdP, end to end: tenants of one Atrium sign their users in through
 * upstream OpenID providers started here, a tenant of a second Atrium and a plain
 * oidc-provider, through the login page, the upstream's pages and back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';
import { request } from 'undici';
import { hiddenInput, loopbackAgent, TestBrowser } from './support/http-client.ts';
import { codeAt, mfaAction, open, submit } from './support/mfa.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import {
  authorizationRequest,
  correlationIdOf,
  finishDownstream,
  openLoginPage,
  pressConnection,
  redeem,
  signInAtAtriumUpstream,
  signInAtPlainUpstream,
  startAtUpstream,
} from './support/federation-flow.ts';

let down: TestAtrium; // the Atrium whose tenants federate
let up: TestAtrium; // the Atrium one of whose tenants is the upstream
let plain: PlainProvider;
let acme: TenantFixture; // federates to up's tenant "idp"
let globex: TenantFixture; // federates to the plain oidc-provider
let upstreamClient: { id: string; secret: string };

const PASSWORD = 'upstream-correct-horse-battery';
const upstreamUsers = {
  alice: { email: 'alice@corp.test', email_verified: true, name: 'Alice Upstream' },
  bob: { email: 'bob@other.test', email_verified: true, name: 'Bob Elsewhere' },
  // Same email as acme's own password user (created by the fixture).
  acmeUser: { email: 'user@acme.test', email_verified: true, name: 'Acme user upstream' },
  dave: { email: 'dave@acme.test', email_verified: false, name: 'Dave Unverified' },
  carol: { email: 'carol@corp.test', email_verified: true, name: 'Carol' },
  erin: { email: 'erin@corp.test', email_verified: true, name: 'Erin' },
};

async function createUpstreamUser(user: { email: string; email_verified: boolean; name: string }) {
  const res = await up.api('POST', '/tenants/idp/users', { email: user.email, password: PASSWORD, name: user.name, email_verified: user.email_verified });
  assert.equal(res.status, 201, JSON.stringify(res.body));
}

async function putConnection(t: TestAtrium, slug: string, name: string, body: Record<string, unknown>) {
  const res = await t.api('PUT', `/tenants/${slug}/federation/${name}`, body);
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
  return res.body;
}

const corpConnection = (extra: Record<string, unknown> = {}) => ({
  provider: 'generic_oidc',
  display_name: 'Corp SSO',
  issuer: up.issuer('idp'),
  client_id: upstreamClient.id,
  client_secret: upstreamClient.secret,
  allowed_domains: ['corp.test', 'acme.test'],
  home_realm_domains: ['corp.test'],
  ...extra,
});

async function auditEvents(t: TestAtrium, slug: string, action: string) {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=50`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events as { action: string; outcome: string; actor: string | null; target: string | null; correlation_id: string | null; details: Record<string, unknown> }[];
}

/** Through acme's "corp" connection up to the redirect back (not followed). */
async function toCallback(browser: TestBrowser, who: { email: string }, connection = 'corp', fixture = acme) {
  const request = await authorizationRequest(fixture);
  const upstreamUrl = await startAtUpstream(browser, request, connection);
  assert.equal(upstreamUrl.origin, up.issuer('idp'), 'the button leads to the upstream tenant');
  const callback = await signInAtAtriumUpstream(browser, upstreamUrl, { email: who.email, password: PASSWORD }, down.port);
  return { request, upstreamUrl, callback };
}

before(async () => {
  down = await startTestAtrium();
  up = await startTestAtrium();
  acme = await createTenantFixture(down, 'acme');
  globex = await createTenantFixture(down, 'globex');
  await createTenantFixture(up, 'idp');
  for (const user of Object.values(upstreamUsers)) await createUpstreamUser(user);
  const client = await up.api('POST', '/tenants/idp/clients', {
    client_name: 'Atrium downstream',
    redirect_uris: [`${down.issuer('acme')}/federation/callback`, `${down.baseUrl}/_ops/federation/callback`, `${down.issuer('initech')}/federation/callback`],
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  assert.equal(client.status, 201, JSON.stringify(client.body));
  upstreamClient = { id: client.body.client_id, secret: client.body.client_secret };
  await putConnection(down, 'acme', 'corp', corpConnection());
  await putConnection(down, 'acme', 'corp-relay', corpConnection({ display_name: 'Corp via relay', home_realm_domains: [], use_relay: true }));

  plain = await startPlainProvider({
    redirectUris: [`${down.issuer('globex')}/federation/callback`],
    accounts: { 'plain-sub-1': { email: 'grace@plain.test', email_verified: true, name: 'Grace Plain' } },
  });
  await putConnection(down, 'globex', 'plain', { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret });
});
after(async () => {
  await plain?.close();
  await up?.stop();
  await down?.stop();
});

describe('federated sign-in through an upstream Atrium tenant', () => {
  it('provisions a member at the first sign-in and finds the same user at the next', async () => {
    const browser = new TestBrowser();
    const first = await toCallback(browser, upstreamUsers.alice);
    assert.equal(first.callback.origin, down.issuer('acme'), 'the upstream sends the browser back to the tenant host');
    assert.equal(first.callback.pathname, '/federation/callback');
    assert.equal(first.upstreamUrl.searchParams.get('code_challenge_method'), 'S256', 'PKCE');
    assert.ok(first.upstreamUrl.searchParams.get('nonce'), 'a nonce');
    assert.equal(first.upstreamUrl.searchParams.get('scope'), 'openid email profile');
    const done = await finishDownstream(browser, first.callback);
    assert.ok(done.redirect, `expected the client's redirect, got ${done.status}: ${done.html.slice(0, 300)}`);
    const claims = await redeem(first.request, done.redirect);
    assert.equal(claims.iss, acme.issuer);
    assert.notEqual(claims.sub, acme.userId);

    const user = await down.api('GET', `/tenants/acme/users/${claims.sub}`);
    assert.equal(user.status, 200);
    assert.equal(user.body.email, 'alice@corp.test');
    assert.equal(user.body.name, 'Alice Upstream');
    assert.equal(user.body.email_verified, true);
    assert.deepEqual(user.body.roles, ['member'], 'not the first user of acme: the default role');

    // A new browser, a new sign-in: the same upstream account is the same user.
    const again = new TestBrowser();
    const second = await toCallback(again, upstreamUsers.alice);
    const done2 = await finishDownstream(again, second.callback);
    assert.ok(done2.redirect, done2.html.slice(0, 300));
    assert.equal((await redeem(second.request, done2.redirect)).sub, claims.sub);
    const users = await down.api('GET', '/tenants/acme/users?search=alice');
    assert.equal(users.body.total, 1, 'no second user for a returning sign-in');

    const signIns = await auditEvents(down, 'acme', 'federation.sign_in');
    const outcomes = signIns.filter((e) => e.actor === claims.sub).map((e) => e.details.outcome);
    assert.deepEqual(outcomes.sort(), ['created', 'returning']);
    const created = await auditEvents(down, 'acme', 'user.created');
    assert.ok(created.some((e) => e.target === claims.sub && e.actor === 'federation:corp'));
  });

  it('makes the first user of an empty tenant its owner', async () => {
    const tenant = await down.api('POST', '/tenants', { slug: 'initech', name: 'Initech' });
    assert.equal(tenant.status, 201);
    const web = await down.api('POST', '/tenants/initech/clients', { client_name: 'initech web', redirect_uris: [REDIRECT_URI], grant_types: ['authorization_code'], response_types: ['code'] });
    assert.equal(web.status, 201);
    await putConnection(down, 'initech', 'corp', corpConnection());
    const fixture = { ...acme, slug: 'initech', issuer: down.issuer('initech'), clientId: web.body.client_id, clientSecret: web.body.client_secret };
    const browser = new TestBrowser();
    const { request, callback } = await toCallback(browser, upstreamUsers.carol, 'corp', fixture);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, done.html.slice(0, 300));
    const claims = await redeem(request, done.redirect);
    const user = await down.api('GET', `/tenants/initech/users/${claims.sub}`);
    assert.deepEqual(user.body.roles, ['owner']);
    // The same upstream account has its own, separate user in acme if it signs in there.
    assert.equal((await down.api('GET', `/tenants/acme/users/${claims.sub}`)).status, 404);
  });

  it('refuses an email domain the connection does not allow, with a page that says why', async () => {
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, upstreamUsers.bob);
    const done = await finishDownstream(browser, callback);
    assert.equal(done.status, 403);
    assert.match(done.html, /Accounts of other\.test cannot sign in to this organisation with Corp SSO/);
    assert.match(done.html, /acme Inc\./, 'the tenant-branded page');
    const correlationId = correlationIdOf(done.html);
    assert.ok(correlationId, 'the page shows a correlation id');
    const refused = (await auditEvents(down, 'acme', 'federation.sign_in')).find((e) => e.correlation_id === correlationId);
    assert.equal(refused?.outcome, 'failure');
    assert.equal(refused?.details.reason, 'domain_not_allowed');
    assert.equal((await down.api('GET', '/tenants/acme/users?search=bob')).body.total, 0, 'no user created');
  });

  it('refuses a returning upstream account whose user was disabled', async () => {
    const alice = (await down.api('GET', '/tenants/acme/users?search=alice@corp.test')).body.users[0];
    assert.ok(alice, 'alice signed in before');
    assert.equal((await down.api('PATCH', `/tenants/acme/users/${alice.id}`, { status: 'disabled' })).status, 200);
    try {
      const browser = new TestBrowser();
      const { callback } = await toCallback(browser, upstreamUsers.alice);
      const done = await finishDownstream(browser, callback);
      assert.equal(done.status, 403);
      assert.match(done.html, /Your account in this organisation is disabled/);
    } finally {
      await down.api('PATCH', `/tenants/acme/users/${alice.id}`, { status: 'active' });
    }
  });

  it('refuses a replayed callback', async () => {
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, upstreamUsers.alice);
    const first = await finishDownstream(browser, callback);
    assert.ok(first.redirect, first.html.slice(0, 300));
    const replay = await browser.request(callback);
    const html = await replay.text();
    assert.equal(replay.status, 400);
    assert.match(html, /already been used/);
    const event = (await auditEvents(down, 'acme', 'federation.sign_in')).find((e) => e.correlation_id === correlationIdOf(html));
    assert.equal(event?.details.reason, 'state_used');
  });

  it("refuses a state minted for another tenant, and leaves the sign-in usable where it belongs", async () => {
    const browser = new TestBrowser();
    const { request, callback } = await toCallback(browser, upstreamUsers.alice);
    const elsewhere = new URL(callback.href.replace(down.issuer('acme'), down.issuer('globex')));
    const refused = await browser.request(elsewhere);
    const html = await refused.text();
    assert.equal(refused.status, 400);
    assert.match(html, /does not belong to a sign-in started here/);
    assert.match(html, /globex Inc\./);
    const event = (await auditEvents(down, 'globex', 'federation.sign_in')).find((e) => e.correlation_id === correlationIdOf(html));
    assert.equal(event?.details.reason, 'state_invalid');
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, done.html.slice(0, 300));
    assert.equal((await redeem(request, done.redirect)).iss, acme.issuer);
  });

  it('refuses a callback opened in another browser than the one that started the sign-in', async () => {
    const { callback } = await toCallback(new TestBrowser(), upstreamUsers.alice);
    const other = new TestBrowser();
    const res = await other.request(callback);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /started in another browser/);
  });

  it('refuses a state tampered with', async () => {
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, upstreamUsers.alice);
    const state = callback.searchParams.get('state')!;
    const forged = new URL(callback);
    forged.searchParams.set('state', `${state.slice(0, -2)}${state.endsWith('AA') ? 'BB' : 'AA'}`);
    const res = await browser.request(forged);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /does not belong to a sign-in started here/);
  });

  it('links an existing password account only when the upstream verified the email and the connection allows it', async () => {
    // Not allowed by the connection: refused, the account untouched.
    let browser = new TestBrowser();
    let flow = await toCallback(browser, upstreamUsers.acmeUser);
    let done = await finishDownstream(browser, flow.callback);
    assert.equal(done.status, 409);
    assert.match(done.html, /An account with the email user@acme\.test already exists here/);
    assert.equal((await auditEvents(down, 'acme', 'federation.link_refused')).length, 1);

    await putConnection(down, 'acme', 'corp', corpConnection({ link_by_verified_email: true }));
    // Allowed, but the upstream did not verify the email: still refused.
    browser = new TestBrowser();
    const dave = await down.api('POST', '/tenants/acme/users', { email: 'dave@acme.test', password: 'dave-password-123' });
    assert.equal(dave.status, 201);
    flow = await toCallback(browser, upstreamUsers.dave);
    done = await finishDownstream(browser, flow.callback);
    assert.equal(done.status, 409);

    // Allowed and verified: linked to the existing user.
    browser = new TestBrowser();
    flow = await toCallback(browser, upstreamUsers.acmeUser);
    done = await finishDownstream(browser, flow.callback);
    assert.ok(done.redirect, done.html.slice(0, 300));
    assert.equal((await redeem(flow.request, done.redirect)).sub, acme.userId);
    assert.ok((await auditEvents(down, 'acme', 'federation.identity_linked')).some((e) => e.target === acme.userId));
    await putConnection(down, 'acme', 'corp', corpConnection());
  });

  it('shows the upstream refusal as a page the user can act on', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const upstreamUrl = await startAtUpstream(browser, request, 'corp');
    // The user cancels at the upstream's login page.
    const page = await browser.follow(upstreamUrl);
    const html = await page.res.text();
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    const res = await browser.postForm(`${page.url.href}/abort`, { csrf });
    assert.equal(res.status, 303);
    const back = await browser.follow(new URL(res.headers.get('location')!, page.url), (u) => u.port === String(down.port));
    assert.equal(back.url.searchParams.get('error'), 'access_denied');
    const done = await finishDownstream(browser, back.url);
    assert.equal(done.status, 400);
    assert.match(done.html, /Corp SSO did not sign you in \(access_denied\)/);
    const event = (await auditEvents(down, 'acme', 'federation.sign_in')).find((e) => e.correlation_id === correlationIdOf(done.html));
    assert.equal(event?.details.reason, 'upstream_error');
  });

  it('refuses to start a connection that is disabled or belongs to another tenant', async () => {
    const browser = new TestBrowser();
    const login = await openLoginPage(browser, await authorizationRequest(globex));
    const res = await pressConnection(browser, login, 'corp');
    assert.equal(res.status, 404, "globex cannot use acme's connection");
    assert.match(await res.text(), /not available for this organisation/);

    await putConnection(down, 'acme', 'corp-off', corpConnection({ display_name: 'Corp (off)', home_realm_domains: [], enabled: false }));
    const acmeBrowser = new TestBrowser();
    const acmeLogin = await openLoginPage(acmeBrowser, await authorizationRequest(acme));
    const off = await pressConnection(acmeBrowser, acmeLogin, 'corp-off');
    assert.equal(off.status, 404, 'a disabled connection cannot be started');
    assert.match(await off.text(), /Signing in with Corp \(off\) is not available/);
    await down.api('DELETE', '/tenants/acme/federation/corp-off');
  });
});

describe('the login page', () => {
  it('features.enterprise_sso off: no buttons, no home-realm discovery, and a button pressed anyway is refused; on again, all is back', async () => {
    const off = await down.api('PUT', '/tenants/acme/config/features', { enterprise_sso: false });
    assert.equal(off.status, 200, JSON.stringify(off.body));
    try {
      const browser = new TestBrowser();
      const page = await openLoginPage(browser, await authorizationRequest(acme));
      assert.doesNotMatch(page.html, /Continue with Corp SSO/, 'no buttons');
      const pressed = await pressConnection(browser, page, 'corp');
      assert.equal(pressed.status, 404);
      assert.match(await pressed.text(), /not available for this organisation/);
      // A home-realm email is not sent upstream: the password form answers it like any other.
      const fresh = await openLoginPage(browser, await authorizationRequest(acme));
      const res = await browser.postForm(`${fresh.url.href}/login`, { csrf: hiddenInput(fresh.html, 'csrf'), email: 'alice@corp.test', password: '' });
      assert.notEqual(res.status, 303, 'not redirected to the upstream');
      const globexPage = await openLoginPage(new TestBrowser(), await authorizationRequest(globex));
      assert.match(globexPage.html, />Continue with Plain IdP</, 'another tenant keeps its connections');
    } finally {
      await down.api('PUT', '/tenants/acme/config/features', {});
    }
    const back = await openLoginPage(new TestBrowser(), await authorizationRequest(acme));
    assert.match(back.html, />Continue with Corp SSO</);
  });

  it("shows a button per enabled connection of the tenant, and none of another tenant's", async () => {
    await putConnection(down, 'acme', 'corp-off', corpConnection({ display_name: 'Corp (off)', home_realm_domains: [], enabled: false }));
    try {
      const acmePage = await openLoginPage(new TestBrowser(), await authorizationRequest(acme));
      const uid = acmePage.url.pathname.split('/')[2];
      assert.match(acmePage.html, new RegExp(`action="/interaction/${uid}/federation/corp"`));
      assert.match(acmePage.html, />Continue with Corp SSO</);
      assert.match(acmePage.html, />Continue with Corp via relay</);
      assert.doesNotMatch(acmePage.html, /Corp \(off\)/, 'a disabled connection has no button');
      assert.doesNotMatch(acmePage.html, /Plain IdP/);
      const globexPage = await openLoginPage(new TestBrowser(), await authorizationRequest(globex));
      assert.match(globexPage.html, />Continue with Plain IdP</);
      assert.doesNotMatch(globexPage.html, /Corp SSO/);
    } finally {
      await down.api('DELETE', '/tenants/acme/federation/corp-off');
    }
  });

  it('sends an email of a home-realm domain straight to its upstream, without checking a password', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(acme);
    const login = await openLoginPage(browser, request);
    const csrf = /name="csrf" value="([^"]+)"/.exec(login.html)![1]!;
    const res = await browser.postForm(`${login.url.href}/login`, { csrf, email: 'Erin@Corp.test', password: '' });
    assert.equal(res.status, 303);
    const upstreamUrl = new URL(res.headers.get('location')!);
    assert.equal(upstreamUrl.origin, up.issuer('idp'));
    assert.equal(upstreamUrl.searchParams.get('login_hint'), 'Erin@Corp.test');
    const callback = await signInAtAtriumUpstream(browser, upstreamUrl, { email: upstreamUsers.erin.email, password: PASSWORD }, down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, done.html.slice(0, 300));
    assert.equal((await down.api('GET', `/tenants/acme/users/${(await redeem(request, done.redirect)).sub}`)).body.email, 'erin@corp.test');
    const started = (await auditEvents(down, 'acme', 'federation.sign_in_started')).find((e) => e.details.home_realm === true);
    assert.equal(started?.target, 'corp');

    // Other domains still sign in with their password.
    const other = new TestBrowser();
    const page = await openLoginPage(other, await authorizationRequest(acme));
    const otherCsrf = /name="csrf" value="([^"]+)"/.exec(page.html)![1]!;
    const password = await other.postForm(`${page.url.href}/login`, { csrf: otherCsrf, email: acme.email, password: acme.password });
    assert.equal(password.status, 303);
    assert.equal(new URL(password.headers.get('location')!, page.url).origin, acme.issuer);
  });
});

describe('the _ops callback relay', () => {
  it('forwards a relayed callback to the tenant in the state, on its own host, and completes there', async () => {
    const browser = new TestBrowser();
    const { request: downstream, callback } = await toCallback(browser, upstreamUsers.alice, 'corp-relay');
    assert.equal(callback.origin, down.baseUrl, 'the upstream sends the browser to the bare PUBLIC_URL host');
    assert.equal(callback.pathname, '/_ops/federation/callback');
    // Only the authorization response goes through; the Host header does not choose the tenant.
    const withExtra = new URL(callback);
    withExtra.searchParams.set('injected', 'x');
    const relayed = await request(`http://127.0.0.1:${down.port}${withExtra.pathname}${withExtra.search}`, { headers: { host: `globex.localhost:${down.port}` }, dispatcher: loopbackAgent });
    await relayed.body.dump();
    assert.equal(relayed.statusCode, 303);
    const forwarded = new URL(String(relayed.headers.location));
    assert.equal(forwarded.origin, down.issuer('acme'));
    assert.equal(forwarded.pathname, '/federation/relayed');
    assert.equal(forwarded.searchParams.get('injected'), null);
    assert.equal(forwarded.searchParams.get('state'), callback.searchParams.get('state'));
    const done = await finishDownstream(browser, forwarded);
    assert.ok(done.redirect, done.html.slice(0, 300));
    assert.equal((await redeem(downstream, done.redirect)).iss, acme.issuer);
  });

  it('refuses a state it did not sign', async () => {
    const res = await new TestBrowser().request(`${down.baseUrl}/_ops/federation/callback?code=x&state=not-a-state`);
    assert.equal(res.status, 400);
    const html = await res.text();
    assert.match(html, /does not belong to a sign-in started here/);
    assert.ok(correlationIdOf(html));
  });

  it('recognises a callback that came back to another redirect URI than the sign-in used', async () => {
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, upstreamUsers.alice, 'corp');
    const viaRelay = new URL(`${down.baseUrl}/_ops/federation/callback${callback.search}`);
    const done = await finishDownstream(browser, viaRelay);
    assert.equal(done.status, 400);
    assert.match(done.html, new RegExp(`check that ${down.issuer('acme').replace(/\./g, '\\.')}/federation/callback is the redirect URI registered at Corp SSO`));
    const event = (await auditEvents(down, 'acme', 'federation.sign_in')).find((e) => e.correlation_id === correlationIdOf(done.html));
    assert.equal(event?.details.reason, 'redirect_uri_mismatch');
  });
});

describe('federated sign-in through a plain oidc-provider', () => {
  it('signs a globex user in, who never appears in acme', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(globex);
    const upstreamUrl = await startAtUpstream(browser, request, 'plain');
    assert.equal(upstreamUrl.origin, plain.issuer);
    const callback = await signInAtPlainUpstream(browser, upstreamUrl, 'grace@plain.test', down.port);
    assert.equal(callback.origin, down.issuer('globex'));
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, done.html.slice(0, 300));
    const claims = await redeem(request, done.redirect);
    assert.equal(claims.iss, globex.issuer);
    assert.equal((await down.api('GET', `/tenants/globex/users/${claims.sub}`)).body.email, 'grace@plain.test');
    assert.equal((await down.api('GET', `/tenants/acme/users/${claims.sub}`)).status, 404);
    assert.equal((await down.api('GET', '/tenants/acme/users?search=grace')).body.total, 0);
  });

  it("holds upstream sign-ins to the tenant's MFA policy: with MFA required, the user enrols a second factor first", async () => {
    plain.accounts.set('plain-sub-mfa', { email: 'ivy@plain.test', email_verified: true, name: 'Ivy Plain' });
    assert.equal((await down.api('PUT', '/tenants/globex/config/security', { mfa: { required: 'all' } })).status, 200);
    try {
      const browser = new TestBrowser();
      const request = await authorizationRequest(globex);
      const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, 'plain'), 'ivy@plain.test', down.port);
      const enrol = await open(browser, callback);
      assert.match(enrol.url.pathname, /^\/interaction\/[^/]+\/mfa$/, `expected the MFA step, got ${enrol.url.href}`);
      const secret = /data-totp-secret>([A-Z2-7]+)</.exec(enrol.html)![1]!;
      const codes = await submit(browser, enrol, mfaAction(enrol, 'enrol/totp'), { code: codeAt(secret) });
      assert.equal(codes.status, 200);
      const res = await browser.postForm(new URL(mfaAction(enrol, 'continue'), enrol.url), { csrf: hiddenInput(codes.html, 'csrf') });
      const done = await finishDownstream(browser, new URL(res.headers.get('location')!, enrol.url));
      assert.ok(done.redirect, done.html.slice(0, 300));
      const claims = await redeem(request, done.redirect);
      assert.deepEqual(claims.amr, ['fed', 'otp']);
      assert.equal(claims.acr, 'urn:atrium:loa:2');
    } finally {
      await down.api('PUT', '/tenants/globex/config/security', {});
    }
  });

  it("fills the user from the upstream's claims as the connection maps them", async () => {
    plain.accounts.set('plain-sub-2', { email: 'henry@plain.test', email_verified: false, name: 'Henry Plain' });
    // This upstream's "name" claim is not wanted; the email stands in for it.
    await putConnection(down, 'globex', 'plain', { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret, claims_mapping: { name: 'email' } });
    try {
      const browser = new TestBrowser();
      const request = await authorizationRequest(globex);
      const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, 'plain'), 'henry@plain.test', down.port);
      const done = await finishDownstream(browser, callback);
      assert.ok(done.redirect, done.html.slice(0, 300));
      const user = await down.api('GET', `/tenants/globex/users/${(await redeem(request, done.redirect)).sub}`);
      assert.equal(user.body.email, 'henry@plain.test');
      assert.equal(user.body.name, 'henry@plain.test');
      assert.equal(user.body.email_verified, false, 'as the upstream said');
    } finally {
      await putConnection(down, 'globex', 'plain', { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret });
    }
  });

  it('refuses an ID token whose nonce is not the one sent', async () => {
    const browser = new TestBrowser();
    const upstreamUrl = await startAtUpstream(browser, await authorizationRequest(globex), 'plain');
    upstreamUrl.searchParams.set('nonce', 'a-nonce-the-downstream-never-sent');
    const callback = await signInAtPlainUpstream(browser, upstreamUrl, 'grace@plain.test', down.port);
    const done = await finishDownstream(browser, callback);
    assert.equal(done.status, 400);
    assert.match(done.html, /The answer from Plain IdP could not be verified/);
    const event = (await auditEvents(down, 'globex', 'federation.sign_in')).find((e) => e.correlation_id === correlationIdOf(done.html));
    assert.equal(event?.details.reason, 'token_invalid');
    assert.match(String(event?.details.upstream), /nonce/);
  });
});

describe('state lifetime', () => {
  let short: TestAtrium;
  let fixture: TenantFixture;
  before(async () => {
    short = await startTestAtrium({ OIDC_STATE_TTL_SECONDS: '1' });
    fixture = await createTenantFixture(short, 'acme');
    const client = await up.api('POST', '/tenants/idp/clients', {
      client_name: 'short-lived downstream',
      redirect_uris: [`${short.issuer('acme')}/federation/callback`, `${short.baseUrl}/_ops/federation/callback`],
      grant_types: ['authorization_code'],
      response_types: ['code'],
    });
    assert.equal(client.status, 201);
    const connection = { provider: 'generic_oidc', display_name: 'Corp SSO', issuer: up.issuer('idp'), client_id: client.body.client_id, client_secret: client.body.client_secret };
    await putConnection(short, 'acme', 'corp', connection);
    await putConnection(short, 'acme', 'corp-relay', { ...connection, use_relay: true });
  });
  after(() => short?.stop());

  for (const [name, road] of [['corp', 'tenant callback'], ['corp-relay', 'relay']] as const) {
    it(`refuses a state older than OIDC_STATE_TTL_SECONDS (${road})`, async () => {
      const browser = new TestBrowser();
      const request = await authorizationRequest(fixture);
      const upstreamUrl = await startAtUpstream(browser, request, name);
      const callback = await signInAtAtriumUpstream(browser, upstreamUrl, { email: upstreamUsers.erin.email, password: PASSWORD }, short.port);
      await sleep(1_200);
      const done = await finishDownstream(browser, callback);
      assert.equal(done.status, 400);
      assert.match(done.html, /took too long and has expired/);
      const events = await auditEvents(short, 'acme', 'federation.sign_in');
      assert.equal(events.find((e) => e.correlation_id === correlationIdOf(done.html))?.details.reason, 'state_expired');
    });
  }
});
