/**
 * Every OIDC flow a relying party uses, driven with openid-client against two tenants side
 * by side: discovery, code + PKCE, refresh rotation and reuse detection, client credentials,
 * userinfo, introspection, revocation, RP-initiated logout.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

async function codeFlow(fixture: TenantFixture, options: { scope?: string; publicClient?: boolean } = {}) {
  const config = options.publicClient ? await discover(fixture.issuer, fixture.publicClientId) : await discover(fixture.issuer, fixture.clientId, fixture.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const scope = options.scope ?? 'openid email profile offline_access';
  const authUrl = oidc.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT_URI,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    ...(scope.includes('offline_access') ? { prompt: 'consent' } : {}),
  });
  const { callback, browser } = await signInThroughPages(authUrl, fixture);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
  return { config, tokens, callback, browser };
}

for (const slug of ['acme', 'globex']) {
  describe(`OIDC flows on tenant ${slug}`, () => {
    const fixture = () => (slug === 'acme' ? acme : globex);

    it('publishes discovery and a JWKS with RS256 and ES256 keys under the tenant issuer', async () => {
      const config = await discover(fixture().issuer, fixture().clientId, fixture().clientSecret);
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, fixture().issuer);
      assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
      assert.equal(meta.authorization_response_iss_parameter_supported, true);
      const jwks = (await (await httpFetch(meta.jwks_uri!)).json()) as { keys: { alg: string; d?: string }[] };
      assert.deepEqual(jwks.keys.map((k) => k.alg).sort(), ['ES256', 'RS256']);
      assert.ok(jwks.keys.every((k) => k.d === undefined), 'private key material must never be published');
    });

    it('signs a user in with authorization code + PKCE, with iss in the response and a valid ID token', async () => {
      const { tokens, callback } = await codeFlow(fixture());
      assert.equal(callback.searchParams.get('iss'), fixture().issuer);
      const claims = tokens.claims()!;
      assert.equal(claims.iss, fixture().issuer);
      assert.equal(claims.sub, fixture().userId);
      assert.equal(claims.aud, fixture().clientId);
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
      assert.ok(tokens.refresh_token, 'offline_access with consent yields a refresh token');
    });

    it('serves userinfo for the access token', async () => {
      const { config, tokens } = await codeFlow(fixture());
      const info = await oidc.fetchUserInfo(config, tokens.access_token, fixture().userId);
      assert.equal(info.email, fixture().email);
      assert.equal(info.email_verified, true);
    });

    it('redeems a refresh token once when two requests race with it', async () => {
      const { config, tokens } = await codeFlow(fixture());
      const results = await Promise.allSettled([oidc.refreshTokenGrant(config, tokens.refresh_token!), oidc.refreshTokenGrant(config, tokens.refresh_token!)]);
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1, 'exactly one of the two requests gets new tokens');
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.equal((lost.reason as oidc.ResponseBodyError).error, 'invalid_grant');
      const winner = (won[0] as PromiseFulfilledResult<oidc.TokenEndpointResponse>).value;
      // Two outcomes are right, and which one happens depends on scheduling. If the loser read the
      // token before the winner's consume committed, it lost the conditional consume and the grant
      // lives on. If it read it after, it presented a used token: reuse detection revokes the grant.
      const next = await oidc.refreshTokenGrant(config, winner.refresh_token!).catch((err: oidc.ResponseBodyError) => err);
      if (next instanceof Error) {
        assert.equal(next.error, 'invalid_grant');
        const introspected = await oidc.tokenIntrospection(config, winner.access_token);
        assert.equal(introspected.active, false, 'refused only because the grant was revoked as a replay');
      } else {
        assert.ok(next.access_token, "the winner's refresh token works");
      }
    });

    it('rotates refresh tokens and revokes the grant when a used one is replayed', async () => {
      const { config, tokens } = await codeFlow(fixture());
      const first = tokens.refresh_token!;
      const second = await oidc.refreshTokenGrant(config, first);
      assert.ok(second.refresh_token && second.refresh_token !== first, 'a new refresh token on every use');
      await assert.rejects(oidc.refreshTokenGrant(config, first), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      // Reuse detection: the whole grant is gone, the newest token included.
      await assert.rejects(oidc.refreshTokenGrant(config, second.refresh_token), (err: oidc.ResponseBodyError) => err.error === 'invalid_grant');
      const introspected = await oidc.tokenIntrospection(config, second.access_token);
      assert.equal(introspected.active, false, 'access tokens of a revoked grant are inactive');
    });

    it('requires PKCE for public clients', async () => {
      const config = await discover(fixture().issuer, fixture().publicClientId);
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', state: oidc.randomState() });
      const res = await httpFetch(url, { redirect: 'manual' });
      const location = new URL(res.headers.get('location')!);
      assert.equal(location.origin + location.pathname, REDIRECT_URI);
      assert.equal(location.searchParams.get('error'), 'invalid_request');
      assert.match(location.searchParams.get("error_description")!, /PKCE/);
    });

    it('completes the code flow for a public client with PKCE', async () => {
      const { tokens } = await codeFlow(fixture(), { publicClient: true, scope: 'openid email' });
      assert.equal(tokens.claims()!.sub, fixture().userId);
    });

    it('refuses a redirect_uri that is not registered exactly', async () => {
      const config = await discover(fixture().issuer, fixture().clientId, fixture().clientSecret);
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: `${REDIRECT_URI}/extra`, scope: 'openid', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256' });
      const res = await httpFetch(url, { redirect: 'manual', headers: { accept: 'text/html' } });
      assert.equal(res.status, 400);
      assert.match(await res.text(), /redirect_uri/);
    });

    it('introspects and revokes access tokens', async () => {
      const { config, tokens } = await codeFlow(fixture(), { scope: 'openid email' });
      const active = await oidc.tokenIntrospection(config, tokens.access_token);
      assert.equal(active.active, true);
      assert.equal(active.sub, fixture().userId);
      assert.equal(active.iss, fixture().issuer);
      await oidc.tokenRevocation(config, tokens.access_token);
      assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, false);
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, fixture().userId));
    });

    it('issues client-credentials tokens as JWTs for the API audience, signed by the tenant', async () => {
      const config = await discover(fixture().issuer, fixture().m2mClientId, fixture().m2mClientSecret);
      const token = await oidc.clientCredentialsGrant(config, {});
      const payload = decodeJwt(token.access_token);
      assert.equal(payload.iss, fixture().issuer);
      assert.equal(payload.client_id, fixture().m2mClientId);
      assert.equal(decodeProtectedHeader(token.access_token).typ, 'at+jwt');
      assert.equal(payload.scope, undefined, 'a tenant client is granted no platform scope');
      const asked = await oidc.clientCredentialsGrant(config, { scope: 'atrium:tenants:read' });
      assert.equal(decodeJwt(asked.access_token).scope, undefined, 'platform scopes are never granted by an ordinary tenant');
    });

    it('ends the session with RP-initiated logout', async () => {
      const { config, tokens, browser } = await codeFlow(fixture(), { scope: 'openid' });
      const logoutUrl = oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'https://rp.example.test/logged-out', state: 'bye' });
      const page = await browser.request(logoutUrl);
      const html = await page.text();
      assert.equal(page.status, 200);
      const xsrf = /name="xsrf" value="([^"]+)"/.exec(html)![1]!;
      const action = new URL(/action="([^"]+)"/.exec(html)![1]!, logoutUrl);
      const done = await browser.postForm(action, { xsrf, logout: 'yes' });
      assert.equal(done.status, 303);
      const back = new URL(done.headers.get('location')!);
      assert.equal(back.origin + back.pathname, 'https://rp.example.test/logged-out');
      assert.equal(back.searchParams.get('state'), 'bye');
      // The session is gone: a new authorization request asks for the login form again.
      const again = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'y'.repeat(43), code_challenge_method: 'S256' });
      const step = await browser.follow(again, (u) => u.href.startsWith(REDIRECT_URI));
      assert.match(await step.res.text(), /name="password"/);
    });
  });
}
