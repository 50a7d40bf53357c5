/**
 * Issue 14 items 1-2: sign-out at a tenant that federates to a plain oidc-provider goes
 * through the upstream's end-session endpoint and back to the relying party with its state;
 * the back-channel logout endpoint refuses bad tokens and other tenants' connections.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import { authorizationRequest, finishDownstream, redeem, signInAtPlainUpstream, startAtUpstream } from './support/federation-flow.ts';

let down: TestAtrium;
let plain: PlainProvider;
let globex: TenantFixture;
let initech: TenantFixture;
const RP_LOGGED_OUT = 'https://rp.example.test/logged-out';

before(async () => {
  down = await startTestAtrium();
  globex = await createTenantFixture(down, 'globex');
  initech = await createTenantFixture(down, 'initech');
  plain = await startPlainProvider({
    redirectUris: [`${down.issuer('globex')}/federation/callback`],
    postLogoutRedirectUris: [`${down.issuer('globex')}/federation/plain/signed-out`],
    accounts: { 'plain-sub-1': { email: 'grace@plain.test', email_verified: true, name: 'Grace Plain' } },
  });
  const res = await down.api('PUT', '/tenants/globex/federation/plain', { provider: 'generic_oidc', display_name: 'Plain IdP', discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret });
  assert.ok(res.status === 201 || res.status === 200, JSON.stringify(res.body));
});
after(async () => {
  await plain?.close();
  await down?.stop();
});

async function auditEvents(slug: string, action: string) {
  const res = await down.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=50`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events as { action: string; outcome: string; details: Record<string, unknown> }[];
}

describe('federated sign-out through a plain oidc-provider', () => {
  it('sends the browser to the upstream end-session endpoint with the hint, and back to the RP with its state', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(globex);
    const upstreamUrl = await startAtUpstream(browser, request, 'plain');
    const callback = await signInAtPlainUpstream(browser, upstreamUrl, 'grace@plain.test', down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    const claims = await redeem(request, done.redirect);
    assert.ok(claims.sub);

    // RP-initiated logout at globex, confirmed on its page.
    const endSession = new URL(`${down.issuer('globex')}/session/end`);
    endSession.search = new URLSearchParams({ client_id: globex.clientId, post_logout_redirect_uri: RP_LOGGED_OUT, state: 'rp-state-42' }).toString();
    const page = await browser.follow(endSession);
    const html = await page.res.text();
    assert.equal(page.res.status, 200, html.slice(0, 300));
    const xsrf = hiddenInput(html, 'xsrf');
    const confirm = await browser.postForm(`${down.issuer('globex')}/session/end/confirm`, { xsrf, logout: 'yes' });
    assert.equal(confirm.status, 303);
    const toUpstream = new URL(confirm.headers.get('location')!);
    assert.equal(toUpstream.origin, plain.issuer, 'the browser goes to the upstream first');
    assert.equal(toUpstream.searchParams.get('post_logout_redirect_uri'), `${down.issuer('globex')}/federation/plain/signed-out`);
    assert.equal(toUpstream.searchParams.get('client_id'), plain.clientId);
    assert.ok(toUpstream.searchParams.get('id_token_hint')?.split('.').length === 3, 'the upstream ID token is the hint');
    assert.equal(toUpstream.searchParams.get('state'), null, 'no state goes upstream');

    // The upstream's own sign-out: its confirmation page, then back to Atrium's return route.
    const upPage = await browser.follow(toUpstream);
    const upHtml = await upPage.res.text();
    const upXsrf = /name="xsrf" value="([^"]+)"/.exec(upHtml)?.[1];
    assert.ok(upXsrf, `the upstream's logout page: ${upHtml.slice(0, 300)}`);
    const upConfirm = await browser.postForm(new URL('/session/end/confirm', plain.issuer), { xsrf: upXsrf, logout: 'yes' });
    assert.equal(upConfirm.status, 303);
    const back = new URL(upConfirm.headers.get('location')!);
    assert.equal(back.href, `${down.issuer('globex')}/federation/plain/signed-out`);
    const final = await browser.request(back);
    assert.equal(final.status, 303);
    const rp = new URL(final.headers.get('location')!);
    assert.equal(`${rp.origin}${rp.pathname}`, RP_LOGGED_OUT);
    assert.equal(rp.searchParams.get('state'), 'rp-state-42', 'the RP gets its state back');

    // The upstream session is gone: a new sign-in there asks for the account again.
    const again = await startAtUpstream(browser, await authorizationRequest(globex), 'plain');
    const login = await browser.follow(again, (u) => u.port === String(down.port));
    assert.match(login.url.pathname, /^\/interaction\//, 'the upstream asks the user to sign in again');
    await login.res.text();

    const signOuts = await auditEvents('globex', 'federation.sign_out');
    assert.ok(signOuts.some((e) => e.details.connection === 'plain' && e.details.upstream === 'redirected'));
    const returned = await auditEvents('globex', 'federation.sign_out_returned');
    assert.ok(returned.some((e) => e.outcome === 'success'));
  });

  it("a connection's own end_session_endpoint and post_logout_return_param shape the request sent upstream", async () => {
    const shapes = [
      { name: 'plain-returnto', param: 'returnTo', expect: ['returnTo', 'client_id'] },
      { name: 'plain-logouturi', param: 'logout_uri', expect: ['client_id', 'logout_uri'] },
    ];
    for (const shape of shapes) {
      const put = await down.api('PUT', `/tenants/globex/federation/${shape.name}`, {
        provider: 'generic_oidc', display_name: shape.name, discovery_endpoint: `${plain.issuer}/.well-known/openid-configuration`, client_id: plain.clientId, client_secret: plain.clientSecret,
        end_session_endpoint: `${plain.issuer}/custom/logout`, post_logout_return_param: shape.param,
      });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      const browser = new TestBrowser();
      const request = await authorizationRequest(globex);
      const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, shape.name), 'grace@plain.test', down.port);
      const done = await finishDownstream(browser, callback);
      assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
      const endSession = new URL(`${down.issuer('globex')}/session/end`);
      endSession.search = new URLSearchParams({ client_id: globex.clientId, post_logout_redirect_uri: RP_LOGGED_OUT }).toString();
      const xsrf = hiddenInput(await (await browser.follow(endSession)).res.text(), 'xsrf');
      const confirm = await browser.postForm(`${down.issuer('globex')}/session/end/confirm`, { xsrf, logout: 'yes' });
      assert.equal(confirm.status, 303);
      const toUpstream = new URL(confirm.headers.get('location')!);
      assert.equal(`${toUpstream.origin}${toUpstream.pathname}`, `${plain.issuer}/custom/logout`, shape.name);
      assert.deepEqual([...toUpstream.searchParams.keys()], shape.expect, `${shape.name}: the provider's own shape, no id_token_hint`);
      assert.equal(toUpstream.searchParams.get(shape.param), `${down.issuer('globex')}/federation/${shape.name}/signed-out`);
    }
  });

  it('the return route without a sign-out in progress shows a page, never a redirect', async () => {
    const res = await new TestBrowser().request(`${down.issuer('globex')}/federation/plain/signed-out`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('location'), null);
  });
});

describe('back-channel logout from an upstream', () => {
  const post = (slug: string, name: string, body: string, type = 'application/x-www-form-urlencoded') =>
    new TestBrowser().request(`${down.issuer(slug)}/federation/${name}/backchannel-logout`, { method: 'POST', headers: { 'content-type': type }, body });

  it('refuses a forged token with 400 invalid_request and audits it', async () => {
    const forged = `${Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'logout+jwt' })).toString('base64url')}.${Buffer.from(JSON.stringify({ iss: plain.issuer, aud: plain.clientId, iat: Math.floor(Date.now() / 1000), jti: 'x', sub: 'plain-sub-1', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } })).toString('base64url')}.AAAA`;
    const res = await post('globex', 'plain', new URLSearchParams({ logout_token: forged }).toString());
    assert.equal(res.status, 400);
    const body = (await res.json()) as Record<string, string>;
    assert.equal(body.error, 'invalid_request');
    assert.ok(body.correlation_id);
    const events = await auditEvents('globex', 'federation.backchannel_logout');
    assert.ok(events.some((e) => e.outcome === 'failure'));
  });

  it('a logout token signed by the upstream ends the sessions it names, once; a replay is refused', async () => {
    const browser = new TestBrowser();
    const request = await authorizationRequest(globex);
    const callback = await signInAtPlainUpstream(browser, await startAtUpstream(browser, request, 'plain'), 'grace@plain.test', down.port);
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in: ${done.status} ${done.html.slice(0, 300)}`);
    await redeem(request, done.redirect);

    const jti = randomUUID();
    const token = await plain.sign({ iss: plain.issuer, aud: plain.clientId, iat: Math.floor(Date.now() / 1000), jti, sub: 'plain-sub-1', events: { 'http://schemas.openid.net/event/backchannel-logout': {} } });
    const res = await post('globex', 'plain', new URLSearchParams({ logout_token: token }).toString());
    assert.equal(res.status, 200, await res.text());
    const ended = (await auditEvents('globex', 'federation.backchannel_logout')).find((e) => e.details.jti === jti);
    assert.equal(ended?.outcome, 'success');
    assert.equal(ended?.details.sessions_ended, 1, 'the one session the upstream sign-in made is ended');

    // The session is gone: a silent authorization in that browser needs a sign-in.
    const silent = new URL((await authorizationRequest(globex)).authUrl);
    silent.searchParams.set('prompt', 'none');
    const answer = await browser.follow(silent, (u) => u.origin !== new URL(down.issuer('globex')).origin);
    assert.equal(answer.url.searchParams.get('error'), 'login_required', answer.url.href);

    const replay = await post('globex', 'plain', new URLSearchParams({ logout_token: token }).toString());
    assert.equal(replay.status, 400);
    assert.match(((await replay.json()) as { error_description: string }).error_description, /replayed/);
  });

  it('refuses a missing token and a wrong content type', async () => {
    assert.equal((await post('globex', 'plain', '')).status, 400);
    assert.equal((await post('globex', 'plain', '{}', 'application/json')).status, 400);
  });

  it('does not reach another tenant\'s connection', async () => {
    const res = await post('initech', 'plain', new URLSearchParams({ logout_token: 'a.b.c' }).toString());
    assert.equal(res.status, 404);
    assert.ok(initech.clientId);
  });
});
