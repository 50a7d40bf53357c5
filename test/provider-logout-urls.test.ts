/**
 * Issue 14 acceptance: the exact sign-out request each kind of upstream gets. Local
 * stand-ins serve the providers' real paths and parameter names and record every request
 * as it arrived:
 *   Auth0     GET /v2/logout?client_id=…&returnTo=…                      (no id_token_hint)
 *   Cognito   GET /logout?client_id=…&logout_uri=…                       (no id_token_hint)
 *   Keycloak  GET /realms/<realm>/protocol/openid-connect/logout?id_token_hint=…&post_logout_redirect_uri=…&client_id=…
 * The Keycloak stand-in is reached through the keycloak preset itself (its base_url may be
 * http while developing). The Auth0 and Cognito presets build https URLs on the provider's
 * own domain, which no loopback stand-in can answer; their connections here are generic
 * ones given the end_session_endpoint path and post_logout_return_param that the preset
 * stores (read back from a preset connection through the API), so what is tested is what
 * the preset would send, at the stand-in's origin. Each sign-out ends back at the relying
 * party with its state. An upstream without end-session: local sign-out only, and the page
 * says so.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { startPlainProvider, type PlainProvider, type PlainProviderOptions } from './support/plain-oidc-provider.ts';
import { authorizationRequest, finishDownstream, signInAtPlainUpstream, startAtUpstream } from './support/federation-flow.ts';

let down: TestAtrium;
let globex: TenantFixture;
let initech: TenantFixture;
const standIns: PlainProvider[] = [];
const RP_LOGGED_OUT = 'https://rp.example.test/logged-out';
/** One account per stand-in: a second upstream may not take over an address another one signed in. */
const emailAt = (name: string) => `grace-${name}@upstream.test`;

before(async () => {
  down = await startTestAtrium();
  globex = await createTenantFixture(down, 'globex');
  initech = await createTenantFixture(down, 'initech');
});
after(async () => {
  for (const s of standIns) await s.close();
  await down?.stop();
});

const returnRoute = (name: string) => `${down.issuer('globex')}/federation/${name}/signed-out`;

async function standIn(name: string, extra: Partial<PlainProviderOptions> = {}): Promise<PlainProvider> {
  const s = await startPlainProvider({ redirectUris: [`${down.issuer('globex')}/federation/callback`], postLogoutRedirectUris: [returnRoute(name)], accounts: { 'sub-1': { email: emailAt(name), email_verified: true, name: 'Grace Upstream' } }, ...extra });
  standIns.push(s);
  return s;
}

async function put(name: string, body: Record<string, unknown>) {
  const res = await down.api('PUT', `/tenants/globex/federation/${name}`, body);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body as Record<string, unknown>;
}

/** What the preset stores for its sign-out (through the API, as a tenant would see it). */
async function presetLogout(name: string, body: Record<string, unknown>) {
  const stored = await put(name, { client_id: 'preset-client', client_secret: 'preset-secret', ...body });
  const read = await down.api('GET', `/tenants/globex/federation/${name}`);
  assert.equal(read.status, 200);
  assert.equal(read.body.end_session_endpoint, stored.end_session_endpoint);
  return { endpoint: new URL(String(stored.end_session_endpoint)), param: String(stored.post_logout_return_param) };
}

/** Signs in at globex through `connection` and confirms RP-initiated logout at globex; answers the browser and Atrium's redirect. */
async function signInAndSignOut(connection: string, state: string) {
  const browser = new TestBrowser();
  const request = await authorizationRequest(globex);
  const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, connection), emailAt(connection), down.port);
  const done = await finishDownstream(browser, callback);
  assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
  const endSession = new URL(`${down.issuer('globex')}/session/end`);
  endSession.search = new URLSearchParams({ client_id: globex.clientId, post_logout_redirect_uri: RP_LOGGED_OUT, state }).toString();
  const xsrf = hiddenInput(await (await browser.follow(endSession)).res.text(), 'xsrf');
  const confirm = await browser.postForm(`${down.issuer('globex')}/session/end/confirm`, { xsrf, logout: 'yes' });
  assert.equal(confirm.status, 303);
  return { browser, redirect: new URL(confirm.headers.get('location')!) };
}

/** The one sign-out request the stand-in received at `path`. */
function recordedAt(s: PlainProvider, path: string): URL {
  const hits = s.requests.filter((r) => r.url.pathname === path);
  assert.equal(hits.length, 1, `one request at ${path}: ${s.requests.map((r) => r.url.pathname).join(', ')}`);
  assert.equal(hits[0]!.method, 'GET');
  return hits[0]!.url;
}

/** The browser follows Atrium's redirect to the stand-in; answers the stand-in's response. */
const goUpstream = (browser: TestBrowser, redirect: URL) => browser.request(redirect);

/** From the stand-in's redirect back to Atrium's return route, and on: the RP's address. */
async function backToRp(browser: TestBrowser, back: Awaited<ReturnType<TestBrowser['request']>>, name: string): Promise<URL> {
  assert.equal(back.status, 302);
  const atReturn = new URL(back.headers.get('location')!);
  assert.equal(atReturn.href, returnRoute(name));
  const final = await browser.request(atReturn);
  assert.equal(final.status, 303);
  return new URL(final.headers.get('location')!);
}

describe('exact logout URLs per provider', () => {
  it('Auth0: /v2/logout with client_id and returnTo, nothing else', async () => {
    const preset = await presetLogout('auth0-preset', { provider: 'auth0', domain: 'acme.eu.auth0.com' });
    assert.equal(preset.endpoint.href, 'https://acme.eu.auth0.com/v2/logout');
    assert.equal(preset.param, 'returnTo');
    const auth0 = await standIn('auth0', { logoutEndpoint: { path: preset.endpoint.pathname, returnParam: preset.param } });
    await put('auth0', { provider: 'generic_oidc', display_name: 'Auth0 stand-in', discovery_endpoint: `${auth0.issuer}/.well-known/openid-configuration`, client_id: auth0.clientId, client_secret: auth0.clientSecret, end_session_endpoint: `${auth0.issuer}${preset.endpoint.pathname}`, post_logout_return_param: preset.param });

    const { browser, redirect } = await signInAndSignOut('auth0', 'st-auth0');
    const upstreamAnswer = await goUpstream(browser, redirect);
    const got = recordedAt(auth0, '/v2/logout');
    assert.equal(redirect.href, got.href, 'the stand-in received exactly the redirect');
    assert.equal(`${got.origin}${got.pathname}`, `${auth0.issuer}/v2/logout`);
    assert.deepEqual([...got.searchParams.keys()].sort(), ['client_id', 'returnTo']);
    assert.equal(got.searchParams.get('client_id'), auth0.clientId);
    assert.equal(got.searchParams.get('returnTo'), returnRoute('auth0'));
    const rp = await backToRp(browser, upstreamAnswer, 'auth0');
    assert.equal(`${rp.origin}${rp.pathname}`, RP_LOGGED_OUT);
    assert.equal(rp.searchParams.get('state'), 'st-auth0');
  });

  it('Cognito: /logout with client_id and logout_uri, nothing else', async () => {
    const preset = await presetLogout('cognito-preset', { provider: 'cognito', region: 'eu-west-1', user_pool_id: 'eu-west-1_AbC123', domain: 'auth.acme.test' });
    assert.equal(preset.endpoint.href, 'https://auth.acme.test/logout');
    assert.equal(preset.param, 'logout_uri');
    const cognito = await standIn('cognito', { logoutEndpoint: { path: preset.endpoint.pathname, returnParam: preset.param } });
    await put('cognito', { provider: 'generic_oidc', display_name: 'Cognito stand-in', discovery_endpoint: `${cognito.issuer}/.well-known/openid-configuration`, client_id: cognito.clientId, client_secret: cognito.clientSecret, end_session_endpoint: `${cognito.issuer}${preset.endpoint.pathname}`, post_logout_return_param: preset.param });

    const { browser, redirect } = await signInAndSignOut('cognito', 'st-cognito');
    const upstreamAnswer = await goUpstream(browser, redirect);
    const got = recordedAt(cognito, '/logout');
    assert.equal(redirect.href, got.href);
    assert.deepEqual([...got.searchParams.keys()].sort(), ['client_id', 'logout_uri']);
    assert.equal(got.searchParams.get('client_id'), cognito.clientId);
    assert.equal(got.searchParams.get('logout_uri'), returnRoute('cognito'));
    const rp = await backToRp(browser, upstreamAnswer, 'cognito');
    assert.equal(rp.searchParams.get('state'), 'st-cognito');
  });

  it('Keycloak (through the preset): /realms/<realm>/protocol/openid-connect/logout with id_token_hint and post_logout_redirect_uri', async () => {
    const kc = await standIn('keycloak', {
      mountPath: '/realms/staff',
      routes: { authorization: '/protocol/openid-connect/auth', token: '/protocol/openid-connect/token', jwks: '/protocol/openid-connect/certs', userinfo: '/protocol/openid-connect/userinfo', end_session: '/protocol/openid-connect/logout' },
    });
    const origin = new URL(kc.issuer).origin;
    const stored = await put('keycloak', { provider: 'keycloak', base_url: origin, realm: 'staff', client_id: kc.clientId, client_secret: kc.clientSecret });
    assert.equal(stored.issuer, `${origin}/realms/staff`);
    assert.equal(stored.end_session_endpoint, `${origin}/realms/staff/protocol/openid-connect/logout`, 'the preset fills the endpoint in');
    assert.equal(stored.post_logout_return_param, 'post_logout_redirect_uri');

    const { browser, redirect } = await signInAndSignOut('keycloak', 'st-keycloak');
    const upstreamAnswer = await goUpstream(browser, redirect);
    const got = recordedAt(kc, '/realms/staff/protocol/openid-connect/logout');
    assert.equal(redirect.href, got.href);
    assert.deepEqual([...got.searchParams.keys()].sort(), ['client_id', 'id_token_hint', 'post_logout_redirect_uri']);
    assert.equal(got.searchParams.get('post_logout_redirect_uri'), returnRoute('keycloak'));
    const hint = JSON.parse(Buffer.from(got.searchParams.get('id_token_hint')!.split('.')[1]!, 'base64url').toString()) as { iss: string; aud: string; sub: string };
    assert.equal(hint.iss, kc.issuer, "the hint is the stand-in's own ID token");
    assert.equal(hint.aud, kc.clientId);
    assert.equal(hint.sub, 'sub-1');

    // The stand-in (oidc-provider at Keycloak's paths) accepts it: its confirmation, then back.
    const html = await upstreamAnswer.text();
    assert.equal(upstreamAnswer.status, 200, html.slice(0, 300));
    const upXsrf = /name="xsrf" value="([^"]+)"/.exec(html)?.[1];
    assert.ok(upXsrf, `the stand-in's logout page: ${html.slice(0, 300)}`);
    const confirm = await browser.postForm(`${kc.issuer}/protocol/openid-connect/logout/confirm`, { xsrf: upXsrf, logout: 'yes' });
    assert.equal(confirm.status, 303);
    const atReturn = new URL(confirm.headers.get('location')!);
    assert.equal(atReturn.href, returnRoute('keycloak'));
    const final = await browser.request(atReturn);
    assert.equal(final.status, 303);
    assert.equal(new URL(final.headers.get('location')!).searchParams.get('state'), 'st-keycloak');
  });

  it('an upstream without end-session: local sign-out only, and the page says the upstream session remains', async () => {
    const bare = await standIn('no-end-session', { rpInitiatedLogout: false });
    const discovery = (await (await fetch(`${bare.issuer}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
    assert.equal(discovery.end_session_endpoint, undefined, 'the stand-in publishes no end-session endpoint');
    await put('no-end-session', { provider: 'generic_oidc', display_name: 'Bare IdP', discovery_endpoint: `${bare.issuer}/.well-known/openid-configuration`, client_id: bare.clientId, client_secret: bare.clientSecret });

    const { browser, redirect } = await signInAndSignOut('no-end-session', 'st-bare');
    assert.equal(redirect.href, returnRoute('no-end-session'), 'straight to the return route, not upstream');
    const page = await browser.request(redirect);
    const html = await page.text();
    assert.equal(page.status, 200);
    assert.match(html, /You are still signed in at Bare IdP/, 'the notice names the upstream');
    assert.match(html, /role="status"/);
    const next = /<a href="([^"]+)">Continue<\/a>/.exec(html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(next, html.slice(0, 600));
    const rp = new URL(next);
    assert.equal(`${rp.origin}${rp.pathname}`, RP_LOGGED_OUT);
    assert.equal(rp.searchParams.get('state'), 'st-bare');
    assert.equal(bare.requests.filter((r) => /logout|session\/end/.test(r.url.pathname)).length, 0, 'no sign-out request went upstream');
    const audit = await down.api('GET', '/tenants/globex/audit?action=federation.sign_out&limit=50');
    assert.ok(audit.body.events.some((e: { details: { connection: string; upstream: string } }) => e.details.connection === 'no-end-session' && e.details.upstream === 'local_only'));
  });

  it("another tenant's return route carries none of globex's sign-outs", async () => {
    const res = await new TestBrowser().request(`${down.issuer('initech')}/federation/auth0/signed-out`);
    assert.ok(res.status === 200 || res.status === 404, String(res.status));
    assert.equal(res.headers.get('location'), null);
    assert.ok(initech.clientId);
  });
});
