/**
 * Social sign-in (features.social): each provider's button on the tenant's login page signs a
 * user in against a local stand-in speaking that provider's wire format, reached through
 * SOCIAL_PROVIDER_URLS (the operator's setting) and the egress guard. GitHub and Facebook
 * are read through their user APIs (GitHub: only a verified primary email); Google,
 * Microsoft and Apple through verified ID tokens; Apple's client secret is a JWT signed with
 * the tenant's key and its answer a form post. Linking to an existing account is opt-in and
 * needs a verified email. One tenant's social settings never reach another tenant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { authorizationRequest, finishDownstream, openLoginPage, redeem } from './support/federation-flow.ts';
import { startSocialUpstream, type SocialName, type SocialUpstream } from './support/social-upstreams.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
const up = {} as Record<SocialName, SocialUpstream>;

const USERS: Record<SocialName, { sub: string; email: string; name: string }> = {
  github: { sub: '583231', email: 'octo@gh.test', name: 'Octo Cat' },
  google: { sub: '1098765432', email: 'gina@gmail.test', name: 'Gina Google' },
  microsoft: { sub: 'ms-sub-1', email: 'mira@outlook.test', name: 'Mira Soft' },
  apple: { sub: '001234.abcdef.1234', email: 'abc123@privaterelay.appleid.test', name: '' },
  facebook: { sub: '10158000000000001', email: 'faye@fb.test', name: 'Faye Book' },
};

function socialConfig(names: SocialName[], extra: Partial<Record<SocialName, Record<string, unknown>>> = {}) {
  return Object.fromEntries(names.map((n) => {
    const u = up[n];
    const base = n === 'apple' ? { enabled: true, client_id: u.clientId, team_id: u.appleKey!.teamId, key_id: u.appleKey!.keyId, private_key: u.appleKey!.pem } : { enabled: true, client_id: u.clientId, client_secret: u.clientSecret };
    return [n, { ...base, ...extra[n] }];
  }));
}

before(async () => {
  for (const name of Object.keys(USERS) as SocialName[]) up[name] = await startSocialUpstream(name, { ...USERS[name] });
  t = await startTestAtrium({ SOCIAL_PROVIDER_URLS: (Object.keys(up) as SocialName[]).map((n) => `${n}=${up[n].origin}`).join(',') });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  const put = await t.api('PUT', '/tenants/acme/config/features', { social: socialConfig(['github', 'google', 'microsoft', 'apple', 'facebook']) });
  assert.equal(put.status, 200, JSON.stringify(put.body));
});
after(async () => {
  await t?.stop();
  for (const u of Object.values(up)) await u.close();
});

/** The login page, the provider's button pressed: answers the browser, the request and the provider's authorization URL. */
async function pressSocial(f: TenantFixture, name: SocialName) {
  const browser = new TestBrowser();
  const request = await authorizationRequest(f);
  const login = await openLoginPage(browser, request);
  const res = await browser.postForm(`${login.url.href}/social/${name}`, { csrf: hiddenInput(login.html, 'csrf') });
  assert.equal(res.status, 303, `pressing ${name}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return { browser, request, login, authorize: new URL(res.headers.get('location')!) };
}

/** A whole sign-in with `name`: answers the downstream ID token's claims, or the error page. */
async function signInWith(f: TenantFixture, name: SocialName) {
  const { browser, request, authorize } = await pressSocial(f, name);
  let callback: URL;
  if (name === 'apple') {
    const page = (await (await browser.request(authorize)).json()) as { action: string; code: string; state: string };
    const posted = await browser.postForm(page.action, { code: page.code, state: page.state, user: JSON.stringify({ name: { firstName: 'Ada', lastName: 'Apple' }, email: USERS.apple.email }) });
    assert.equal(posted.status, 303);
    callback = new URL(posted.headers.get('location')!, page.action);
  } else {
    const step = await browser.follow(authorize, (u) => u.pathname === '/federation/social/callback');
    callback = step.url;
  }
  const done = await finishDownstream(browser, callback);
  if (!done.redirect) return { status: done.status, html: done.html, authorize };
  return { claims: await redeem(request, done.redirect), authorize, status: 200, html: '' };
}

describe('each provider', () => {
  it('shows one button per enabled provider on the login page, in the tenant\'s page', async () => {
    const { html } = await openLoginPage(new TestBrowser(), await authorizationRequest(acme));
    for (const label of ['GitHub', 'Google', 'Microsoft', 'Apple', 'Facebook']) assert.match(html, new RegExp(`Continue with ${label}`));
    assert.match(html, /data-social="github"/);
  });

  it('GitHub: OAuth 2.0 with PKCE, the user from /user and only the verified primary email from /user/emails', async () => {
    const result = await signInWith(acme, 'github');
    assert.ok(result.claims, result.html.slice(0, 500));
    const q = result.authorize;
    assert.equal(q.pathname, '/login/oauth/authorize');
    assert.equal(q.searchParams.get('client_id'), up.github.clientId);
    assert.equal(q.searchParams.get('redirect_uri'), `${acme.issuer}/federation/social/callback`);
    assert.equal(q.searchParams.get('scope'), 'read:user user:email');
    assert.equal(q.searchParams.get('code_challenge_method'), 'S256');
    assert.ok(up.github.paths.includes('/user/emails'));
    const user = await t.api('GET', `/tenants/acme/users/${result.claims.sub}`);
    assert.equal(user.body.email, USERS.github.email);
    assert.equal(user.body.name, 'Octo Cat');
  });

  it('GitHub: an account whose primary email is unverified gets no email, so no account', async () => {
    up.github.user.sub = '999001';
    up.github.user.githubEmails = [{ email: 'unverified@gh.test', primary: true, verified: false, visibility: null }, { email: 'other@gh.test', primary: false, verified: true, visibility: null }];
    try {
      const result = await signInWith(acme, 'github');
      assert.equal(result.status, 400);
      assert.match(result.html, /email/i);
      assert.equal((await t.api('GET', '/tenants/acme/users?search=gh.test')).body.users.filter((u: { email: string }) => u.email !== USERS.github.email).length, 0);
    } finally {
      up.github.user.sub = USERS.github.sub;
      delete up.github.user.githubEmails;
    }
  });

  it('Google: OpenID Connect, a verified ID token (issuer, audience, nonce) and its verified email', async () => {
    const result = await signInWith(acme, 'google');
    assert.ok(result.claims, result.html.slice(0, 500));
    assert.equal(result.authorize.pathname, '/o/oauth2/v2/auth');
    assert.equal(result.authorize.searchParams.get('scope'), 'openid email profile');
    assert.ok(result.authorize.searchParams.get('nonce'));
    const user = await t.api('GET', `/tenants/acme/users/${result.claims.sub}`);
    assert.equal(user.body.email, USERS.google.email);
    assert.equal(user.body.email_verified, true);
  });

  it('Microsoft: the ID token of the user\'s own directory (iss with its tid) is accepted; its email counts as unverified', async () => {
    const result = await signInWith(acme, 'microsoft');
    assert.ok(result.claims, result.html.slice(0, 500));
    assert.equal(result.authorize.pathname, '/common/oauth2/v2.0/authorize');
    const user = await t.api('GET', `/tenants/acme/users/${result.claims.sub}`);
    assert.equal(user.body.email, USERS.microsoft.email);
    assert.equal(user.body.email_verified, false);
  });

  it('Apple: form_post answer, a client secret signed with the tenant\'s key, and the name from the first sign-in\'s user JSON', async () => {
    const result = await signInWith(acme, 'apple');
    assert.ok(result.claims, result.html.slice(0, 500));
    assert.equal(result.authorize.searchParams.get('response_mode'), 'form_post');
    assert.equal(result.authorize.searchParams.get('scope'), 'name email');
    const user = await t.api('GET', `/tenants/acme/users/${result.claims.sub}`);
    assert.equal(user.body.email, USERS.apple.email);
    assert.equal(user.body.name, 'Ada Apple');
  });

  it('Facebook: the Graph API /me with id, name and email; the email never counts as verified', async () => {
    const result = await signInWith(acme, 'facebook');
    assert.ok(result.claims, result.html.slice(0, 500));
    assert.equal(result.authorize.pathname, '/v19.0/dialog/oauth');
    const user = await t.api('GET', `/tenants/acme/users/${result.claims.sub}`);
    assert.equal(user.body.email, USERS.facebook.email);
    assert.equal(user.body.email_verified, false);
  });

  it('a returning user is the same user', async () => {
    const first = await signInWith(acme, 'google');
    const second = await signInWith(acme, 'google');
    assert.equal(first.claims!.sub, second.claims!.sub);
  });
});

describe('settings, linking and isolation', () => {
  it('links to an existing account only with link_by_verified_email and a verified email; scopes add to the defaults', async () => {
    up.google.user.sub = 'linker-1';
    up.google.user.email = globex.email;
    try {
      assert.equal((await t.api('PUT', '/tenants/globex/config/features', { social: socialConfig(['google']) })).status, 200);
      const refused = await signInWith(globex, 'google');
      assert.equal(refused.status, 409, 'an existing account is not linked unless the tenant opted in');
      assert.equal((await t.api('PUT', '/tenants/globex/config/features', { social: socialConfig(['google'], { google: { link_by_verified_email: true, scopes: ['https://www.googleapis.com/auth/calendar.readonly'] } }) })).status, 200);
      const linked = await signInWith(globex, 'google');
      assert.equal(linked.claims?.sub, globex.userId);
      assert.equal(linked.authorize.searchParams.get('scope'), 'openid email profile https://www.googleapis.com/auth/calendar.readonly');
      up.google.user.sub = 'linker-2';
      up.google.user.emailVerified = false;
      const unverified = await signInWith(globex, 'google');
      assert.equal(unverified.status, 409, 'an unverified email never links');
    } finally {
      Object.assign(up.google.user, { sub: USERS.google.sub, email: USERS.google.email, emailVerified: true });
      await t.api('PUT', '/tenants/globex/config/features', {});
    }
  });

  it("another tenant shows none of acme's buttons and refuses its providers; enabled false hides one", async () => {
    const { html, url } = await openLoginPage(new TestBrowser(), await authorizationRequest(globex));
    assert.doesNotMatch(html, /data-social=/);
    const browser = new TestBrowser();
    const login = await openLoginPage(browser, await authorizationRequest(globex));
    const res = await browser.postForm(`${login.url.href}/social/github`, { csrf: hiddenInput(login.html, 'csrf') });
    assert.equal(res.status, 404);
    assert.ok(url);
    assert.equal((await t.api('PUT', '/tenants/acme/config/features', { social: socialConfig(['github', 'google', 'microsoft', 'apple', 'facebook'], { facebook: { enabled: false } }) })).status, 200);
    try {
      const page = await openLoginPage(new TestBrowser(), await authorizationRequest(acme));
      assert.doesNotMatch(page.html, /data-social="facebook"/);
      assert.match(page.html, /data-social="github"/);
    } finally {
      await t.api('PUT', '/tenants/acme/config/features', { social: socialConfig(['github', 'google', 'microsoft', 'apple', 'facebook']) });
    }
  });

  it('a wrong client_id or client_secret is the provider\'s refusal, shown as an error page', async () => {
    assert.equal((await t.api('PUT', '/tenants/globex/config/features', { social: socialConfig(['github'], { github: { client_secret: 'not-the-secret' } }) })).status, 200);
    try {
      const result = await signInWith(globex, 'github');
      assert.equal(result.status, 400);
      assert.match(result.html, /GitHub/);
    } finally {
      await t.api('PUT', '/tenants/globex/config/features', {});
    }
  });

  it('never returns a secret, and refuses bad input with a 400 naming the field', async () => {
    const shown = JSON.stringify((await t.api('GET', '/tenants/acme/config')).body);
    assert.ok(!shown.includes(up.github.clientSecret) && !shown.includes('PRIVATE KEY'));
    assert.match(shown, /"client_secret":"\*{8}"/);
    const cases: [unknown, RegExp][] = [
      [{ social: { github: { enabled: true, client_secret: 'x' } } }, /features\.social\.github\.client_id: required when enabled/],
      [{ social: { github: { enabled: true, client_id: 'gh' } } }, /features\.social\.github\.client_secret: required when enabled/],
      [{ social: { myspace: { enabled: true } } }, /features\.social\.myspace: unknown field/],
      [{ social: { github: { enabled: true, client_id: 'gh', client_secret: 'x', authorize_url: 'http://10.0.0.1/' } } }, /features\.social\.github\.authorize_url: unknown field/],
      [{ social: { apple: { enabled: true, client_id: 'com.acme', team_id: 'TEAM123456', key_id: 'KEY1234567', private_key: 'not a key' } } }, /features\.social\.apple\.private_key: must be the \.p8 key/],
      [{ social: { apple: { enabled: true, client_id: 'com.acme', team_id: 'team', key_id: 'KEY1234567', private_key: up.apple.appleKey!.pem } } }, /features\.social\.apple\.team_id/],
      [{ social: { google: { enabled: true, client_id: 'g', client_secret: 'x', scopes: ['has space'] } } }, /features\.social\.google\.scopes/],
    ];
    for (const [body, message] of cases) {
      const res = await t.api('PUT', '/tenants/globex/config/features', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error_description, message);
    }
  });
});
