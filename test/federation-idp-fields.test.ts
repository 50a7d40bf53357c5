/**
 * Issue 14, items 3 and 4: the IdP fields tenants bring (redirect_path, public_issuer,
 * claims_mapping with nested paths and role_mapping, the mobilityguard preset) and the
 * redirect grace period after a tenant's public origin changes. Upstream: a plain
 * oidc-provider on loopback, reached both as `localhost` (its issuer, what users see) and as
 * `127.0.0.1` (another origin for the same server, standing for an internal address).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { startPlainProvider, type PlainProvider } from './support/plain-oidc-provider.ts';
import { authorizationRequest, finishDownstream, openLoginPage, pressConnection, redeem, signInAtPlainUpstream, startAtUpstream } from './support/federation-flow.ts';

const GRACE_SECONDS = 3;
let t: TestAtrium;
let acme: TenantFixture;
let plain: PlainProvider;

async function put(slug: string, name: string, body: Record<string, unknown>) {
  return t.api('PUT', `/tenants/${slug}/federation/${name}`, body);
}
const plainConnection = (extra: Record<string, unknown> = {}) => ({
  provider: 'generic_oidc',
  display_name: 'Plain IdP',
  issuer: plain.issuer,
  client_id: plain.clientId,
  client_secret: plain.clientSecret,
  ...extra,
});
async function userRoles(slug: string, email: string): Promise<string[]> {
  const res = await t.api('GET', `/tenants/${slug}/users?limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const user = (res.body.users as { email: string; roles: string[] }[]).find((u) => u.email === email);
  assert.ok(user, `${email} exists`);
  return [...user.roles].sort();
}
/** From the RP's authorization request, through connection `name` and the plain upstream, to the callback (not followed). */
async function toCallback(browser: TestBrowser, name: string, email: string) {
  const request = await authorizationRequest(acme);
  const upstreamUrl = await startAtUpstream(browser, request, name);
  const callback = await signInAtPlainUpstream(browser, upstreamUrl, email, t.port);
  return { request, upstreamUrl, callback };
}

before(async () => {
  t = await startTestAtrium({ OIDC_REDIRECT_GRACE_PERIOD_SECONDS: String(GRACE_SECONDS) });
  acme = await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
  plain = await startPlainProvider({
    redirectUris: [`${t.issuer('acme')}/signin-oidc`, `${t.issuer('acme')}/federation/callback`],
    accounts: {
      'sub-ann': { email: 'ann@corp.test', email_verified: true, org: { display: { name: 'Ann Nested' } }, realm_access: { roles: ['atrium-admins', 'staff'] } },
      'sub-bob': { email: 'bob@corp.test', email_verified: true, org: {}, realm_access: { roles: ['staff'] } },
    },
    scopeClaims: { profile: ['org', 'realm_access'] },
  });
});
after(async () => {
  await plain?.close();
  await t?.stop();
});

describe('connection fields: bad input', () => {
  it('refuses a bad redirect_path, claims_mapping, role_mapping or mobilityguard connection with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [plainConnection({ redirect_path: '/a/../admin' }), /redirect_path: must not contain \. or \.\. steps/],
      [plainConnection({ redirect_path: '//evil.test/cb' }), /redirect_path: must not start with \/\//],
      [plainConnection({ redirect_path: 'https://evil.test/cb' }), /redirect_path: must be a path, not a URL/],
      [plainConnection({ redirect_path: '/cb?next=/admin' }), /redirect_path: must not have a query/],
      [plainConnection({ redirect_path: '/cb#x' }), /redirect_path: must not have a query or a fragment/],
      [plainConnection({ redirect_path: '/%2e%2e/cb' }), /redirect_path: must not be percent-encoded/],
      [plainConnection({ redirect_path: '/cb/' }), /redirect_path: must not contain empty steps/],
      [plainConnection({ redirect_path: 'cb' }), /redirect_path: must start with \//],
      [plainConnection({ redirect_path: '/token/cb' }), /redirect_path: must not be under \/token/],
      [plainConnection({ redirect_path: '/federation/relayed' }), /redirect_path: must not be \/federation\/relayed/],
      [plainConnection({ redirect_path: `/${'a'.repeat(300)}` }), /redirect_path/],
      [plainConnection({ claims_mapping: { name: '/org//name' } }), /claims_mapping\.name: must be a JSON Pointer/],
      [plainConnection({ claims_mapping: { name: `/${Array(12).fill('a').join('/')}` } }), /claims_mapping\.name: must be at most 10 levels deep/],
      [plainConnection({ claims_mapping: { name: 'has space' } }), /claims_mapping\.name: must be a claim name or a JSON Pointer/],
      [plainConnection({ claims_mapping: { phone: 'x' } }), /claims_mapping.*phone/],
      [plainConnection({ role_mapping: { admins: ['admin'] } }), /claims_mapping\.roles: required with role_mapping/],
      [plainConnection({ claims_mapping: { roles: 'groups' }, role_mapping: { admins: ['owner'] } }), /role_mapping\.admins\.0: is not a role an upstream may grant/],
      [plainConnection({ claims_mapping: { roles: 'groups' }, role_mapping: { admins: [] } }), /role_mapping\.admins/],
      [plainConnection({ claims_mapping: { roles: 'groups' }, role_mapping: Object.fromEntries(Array.from({ length: 201 }, (_, i) => [`g${i}`, ['member']])) }), /role_mapping: must have at most 200 entries/],
      [plainConnection({ public_issuer: 'not a url' }), /public_issuer: must be an absolute URL/],
      [{ provider: 'mobilityguard', client_id: 'x', client_secret: 'y' }, /discovery_endpoint: required for provider mobilityguard/],
      [{ provider: 'mobilityguard', issuer: 'https://mg.test', discovery_endpoint: 'https://mg.test/mg-local/app/.well-known/openid-configuration', client_id: 'x', client_secret: 'y' }, /issuer: not allowed for provider mobilityguard/],
    ];
    for (const [body, field] of cases) {
      const res = await put('acme', 'bad', body);
      assert.equal(res.status, 400, `${JSON.stringify(body).slice(0, 200)}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error_description, field, JSON.stringify(body).slice(0, 200));
      assert.ok(res.body.correlation_id);
    }
    // A huge mapping is refused before anything is stored, and quickly.
    const huge = await put('acme', 'bad', plainConnection({ claims_mapping: { roles: 'groups' }, role_mapping: Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`group-${i}`, ['member']])) }));
    assert.ok(huge.status === 400 || huge.status === 413, `huge mapping: ${huge.status}`);
    assert.equal((await t.api('GET', '/tenants/acme/federation/bad')).status, 404, 'nothing was stored');
  });

  it('refuses claims_mapping onto sub (Atrium issues it) or onto a claim that is not a standard one, with a 400 naming it', async () => {
    // Every OpenID Connect standard claim but sub is a target (test/federation-profile-claims.test.ts shows their effect).
    const sub = await put('acme', 'bad', plainConnection({ claims_mapping: { name: 'name', sub: '/upstream/id' } }));
    assert.equal(sub.status, 400, JSON.stringify(sub.body));
    assert.match(sub.body.error_description, /claims_mapping: cannot map onto "sub": Atrium issues sub itself/);
    assert.match(sub.body.error_description, /the targets are email, email_verified, name, given_name, .*address, updated_at, phone_number, phone_number_verified, roles/);
    assert.ok(sub.body.correlation_id);
    const other = await put('acme', 'bad', plainConnection({ claims_mapping: { department: '/org/dept' } }));
    assert.equal(other.status, 400);
    assert.match(other.body.error_description, /"department" is not a claim Atrium keeps/);
    // Many unknown targets: refused with a bounded message.
    const many = await put('acme', 'bad', plainConnection({ claims_mapping: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`c${i}`, 'x'])) }));
    assert.ok(many.status === 400 || many.status === 413, `many targets: ${many.status}`);
    if (many.status === 400) {
      assert.match(many.body.error_description, /and 4980 more/);
      assert.ok(many.body.error_description.length < 3000, 'the message stays short');
    }
    assert.equal((await t.api('GET', '/tenants/acme/federation/bad')).status, 404, 'nothing was stored');
  });

  it('stores the mobilityguard preset from its discovery endpoint, and echoes every new field', async () => {
    const discovery = 'https://mg.example.test/mg-local/atrium/.well-known/openid-configuration';
    const res = await put('globex', 'onegate', { provider: 'mobilityguard', discovery_endpoint: discovery, public_issuer: 'https://login.example.test/mg-local/atrium', redirect_path: '/login/callback', client_id: 'atrium', client_secret: 's' });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.display_name, 'MobilityGuard');
    assert.equal(res.body.discovery_endpoint, discovery);
    assert.equal(res.body.issuer, null);
    assert.equal(res.body.public_issuer, 'https://login.example.test/mg-local/atrium');
    assert.equal(res.body.redirect_path, '/login/callback');
    assert.equal(res.body.redirect_uri, `${t.issuer('globex')}/login/callback`, 'the URI to register upstream follows redirect_path');
    assert.deepEqual(res.body.role_mapping, {});
    assert.equal((await t.api('GET', '/tenants/acme/federation/onegate')).status, 404, "another tenant's connections do not have it");
  });
});

describe('connection fields: their effect on sign-in', () => {
  it('redirect_path: the upstream returns to the custom path, which completes the sign-in; claims_mapping reads nested claims and role_mapping sets roles at each sign-in', async () => {
    const body = plainConnection({
      redirect_path: '/signin-oidc',
      claims_mapping: { name: '/org/display/name', roles: '/realm_access/roles' },
      role_mapping: { 'atrium-admins': ['admin'], staff: ['member'] },
    });
    assert.equal((await put('acme', 'mapped', body)).status, 201);
    const browser = new TestBrowser();
    const first = await toCallback(browser, 'mapped', 'ann@corp.test');
    assert.equal(first.upstreamUrl.searchParams.get('redirect_uri'), `${t.issuer('acme')}/signin-oidc`);
    assert.equal(first.callback.pathname, '/signin-oidc');
    const done = await finishDownstream(browser, first.callback);
    assert.ok(done.redirect, `sign-in finished: ${done.status} ${done.html.slice(0, 300)}`);
    assert.ok((await redeem(first.request, done.redirect)).sub, 'the relying party gets its ID token');
    const users = (await t.api('GET', '/tenants/acme/users?limit=100')).body.users as { email: string; name: string | null }[];
    assert.equal(users.find((u) => u.email === 'ann@corp.test')?.name, 'Ann Nested', 'name from the nested path /org/display/name');
    // ann was the tenant's first federated user but not its first user: mapped, not owner.
    assert.deepEqual(await userRoles('acme', 'ann@corp.test'), ['admin', 'member']);

    // Upstream drops her from atrium-admins: the next sign-in takes admin away.
    plain.accounts.set('sub-ann', { ...plain.accounts.get('sub-ann')!, realm_access: { roles: ['staff'] } });
    const second = new TestBrowser();
    const again = await toCallback(second, 'mapped', 'ann@corp.test');
    assert.ok((await finishDownstream(second, again.callback)).redirect, 'the second sign-in finished');
    assert.deepEqual(await userRoles('acme', 'ann@corp.test'), ['member']);
    const changed = await t.api('GET', '/tenants/acme/audit?action=user.roles_changed&limit=10');
    assert.ok((changed.body.events as { actor: string; details: { to: string[] } }[]).some((e) => e.actor === 'federation:mapped' && e.details.to.join() === 'member'), 'each change of roles is audited');
  });

  it('a mapped path the upstream does not send leaves the attribute empty and is reported in the audit, never a 500', async () => {
    assert.equal((await put('acme', 'missing', plainConnection({ redirect_path: '/signin-oidc', claims_mapping: { name: '/org/display/name', roles: '/no/such/path' }, role_mapping: { x: ['admin'] } }))).status, 201);
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, 'missing', 'bob@corp.test');
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in finished: ${done.status} ${done.html.slice(0, 300)}`);
    assert.deepEqual(await userRoles('acme', 'bob@corp.test'), ['member']);
    const events = (await t.api('GET', '/tenants/acme/audit?action=federation.sign_in&limit=20')).body.events as { details: { connection?: string; unmapped_claims?: string[] } }[];
    const mine = events.find((e) => e.details.connection === 'missing');
    assert.deepEqual(mine?.details.unmapped_claims?.sort(), ['name', 'roles']);
  });

  it("a callback at a connection's redirect_path on another tenant's host is not that tenant's: 404, and the sign-in is not consumed", async () => {
    const browser = new TestBrowser();
    const { callback } = await toCallback(browser, 'mapped', 'bob@corp.test');
    const elsewhere = new URL(callback.pathname + callback.search, t.issuer('globex'));
    const res = await browser.follow(elsewhere, () => true);
    assert.equal(res.res.status, 404);
    await res.res.text();
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, 'the rightful callback still completes');
  });

  it('public_issuer: Atrium reaches the upstream at one origin while its ID tokens and its pages use another', async () => {
    const internal = plain.issuer.replace('localhost', '127.0.0.1');
    // Without public_issuer, discovery at the internal origin names another issuer: refused.
    assert.equal((await put('acme', 'internal', plainConnection({ issuer: internal }))).status, 201);
    const report = await t.api('POST', '/tenants/acme/federation/internal/test');
    assert.equal(report.body.ok, false, JSON.stringify(report.body));
    assert.equal((await put('acme', 'internal', plainConnection({ issuer: internal, public_issuer: plain.issuer }))).status, 200);
    const ok = await t.api('POST', '/tenants/acme/federation/internal/test');
    assert.equal(ok.body.ok, true, JSON.stringify(ok.body));
    const browser = new TestBrowser();
    const { request, upstreamUrl, callback } = await toCallback(browser, 'internal', 'bob@corp.test');
    assert.equal(upstreamUrl.origin, plain.issuer, "the browser is sent to the upstream's public origin");
    const done = await finishDownstream(browser, callback);
    assert.ok(done.redirect, `sign-in finished: ${done.status} ${done.html.slice(0, 300)}`);
    assert.ok((await redeem(request, done.redirect)).sub);
  });
});

describe('the mobilityguard preset against a loopback upstream', () => {
  it("signs in with the preset's fields (its discovery endpoint, name, redirect_path) and signs out through the discovered end-session with its return parameter", async () => {
    // A stand-in mounted where a MobilityGuard OneGate application lives: /mg-local/<application>.
    const mg = await startPlainProvider({
      mountPath: '/mg-local/atrium',
      redirectUris: [`${t.issuer('acme')}/login/mg-callback`],
      postLogoutRedirectUris: [`${t.issuer('acme')}/federation/onegate/signed-out`],
      accounts: { 'sub-mia': { email: 'mia@corp.test', email_verified: true, name: 'Mia MG' } },
    });
    try {
      const discovery = `${mg.issuer}/.well-known/openid-configuration`;
      const created = await put('acme', 'onegate', { provider: 'mobilityguard', discovery_endpoint: discovery, redirect_path: '/login/mg-callback', client_id: mg.clientId, client_secret: mg.clientSecret });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.display_name, 'MobilityGuard', "the preset's name");
      assert.equal(created.body.end_session_endpoint ?? null, null, 'the preset leaves end-session to discovery');
      assert.equal(created.body.post_logout_return_param, 'post_logout_redirect_uri', "the preset's return parameter");
      const metadata = (await (await fetch(discovery)).json()) as { authorization_endpoint: string; end_session_endpoint: string };

      const browser = new TestBrowser();
      const request = await authorizationRequest(acme);
      const login = await openLoginPage(browser, request);
      assert.match(login.html, /Continue with MobilityGuard/, "the login page's button carries the preset's name");
      const pressed = await pressConnection(browser, login, 'onegate');
      assert.equal(pressed.status, 303);
      const toMg = new URL(pressed.headers.get('location')!);
      assert.equal(`${toMg.origin}${toMg.pathname}`, metadata.authorization_endpoint, 'the authorization endpoint of the discovery document the preset names');
      assert.equal(toMg.searchParams.get('client_id'), mg.clientId);
      assert.equal(toMg.searchParams.get('redirect_uri'), `${t.issuer('acme')}/login/mg-callback`, 'redirect_path');
      assert.ok(mg.requests.some((r) => r.method === 'GET' && r.url.pathname === '/mg-local/atrium/.well-known/openid-configuration'), 'Atrium read the preset\'s discovery endpoint');
      const callback = await signInAtPlainUpstream(browser, toMg, 'mia@corp.test', t.port);
      assert.equal(callback.pathname, '/login/mg-callback');
      const done = await finishDownstream(browser, callback);
      assert.ok(done.redirect, `sign-in finished: ${done.status} ${done.html.slice(0, 300)}`);
      assert.ok((await redeem(request, done.redirect)).sub, 'the relying party gets its ID token');
      const users = (await t.api('GET', '/tenants/acme/users?limit=100')).body.users as { email: string; name: string | null }[];
      assert.equal(users.find((u) => u.email === 'mia@corp.test')?.name, 'Mia MG', "the user made from the upstream's claims");
      const events = (await t.api('GET', '/tenants/acme/audit?action=federation.sign_in&limit=50')).body.events as { outcome: string; details: { connection?: string; issuer?: string } }[];
      assert.ok(events.some((e) => e.outcome === 'success' && e.details.connection === 'onegate' && e.details.issuer === mg.issuer), 'signed in through onegate, the upstream issuer recorded');

      // Sign-out: to the discovered end-session, with the preset's parameter and the hint.
      const endSession = new URL(`${acme.issuer}/session/end`);
      endSession.search = new URLSearchParams({ client_id: acme.clientId }).toString();
      const page = await browser.follow(endSession);
      const confirm = await browser.postForm(`${acme.issuer}/session/end/confirm`, { xsrf: hiddenInput(await page.res.text(), 'xsrf'), logout: 'yes' });
      assert.equal(confirm.status, 303);
      const out = new URL(confirm.headers.get('location')!);
      assert.equal(`${out.origin}${out.pathname}`, metadata.end_session_endpoint);
      assert.equal(out.searchParams.get('post_logout_redirect_uri'), `${t.issuer('acme')}/federation/onegate/signed-out`);
      assert.ok(out.searchParams.get('id_token_hint'), 'the upstream ID token is the hint');
      const mgPage = await browser.follow(out);
      const mgXsrf = /name="xsrf" value="([^"]+)"/.exec(await mgPage.res.text())?.[1];
      assert.ok(mgXsrf, "the upstream's sign-out page");
      const mgConfirm = await browser.postForm(new URL('/mg-local/atrium/session/end/confirm', mg.issuer), { xsrf: mgXsrf, logout: 'yes' });
      assert.equal(mgConfirm.status, 303);
      assert.equal(mgConfirm.headers.get('location'), `${t.issuer('acme')}/federation/onegate/signed-out`);
    } finally {
      await mg.close();
    }
  });
});

describe('redirect grace period (OIDC_REDIRECT_GRACE_PERIOD_SECONDS)', () => {
  it('a sign-in sent upstream before the primary domain changed completes within the grace period, and is refused after it', async () => {
    assert.equal((await put('acme', 'grace', plainConnection())).status, 201);
    const early = new TestBrowser();
    const late = new TestBrowser();
    const a = await toCallback(early, 'grace', 'bob@corp.test');
    const b = await toCallback(late, 'grace', 'bob@corp.test');
    assert.equal(a.callback.origin, t.issuer('acme'));
    const domain = `login.acme-grace.test:${t.port}`;
    const added = await t.addVerifiedDomain('acme', domain, { primary: true });
    assert.equal(added.body.primary, true, JSON.stringify(added.body));
    const connection = await t.api('GET', '/tenants/acme/federation/grace');
    assert.equal(connection.body.redirect_uri, `http://${domain}/federation/callback`, 'new sign-ins use the new origin');

    // The callback at the old URI finishes the upstream sign-in and hands back to the authorization.
    const within = await early.request(a.callback);
    assert.equal(within.status, 303, `within the grace period: ${within.status} ${(await within.text()).slice(0, 300)}`);
    assert.match(within.headers.get('location')!, /\/auth\//);
    await sleep((GRACE_SECONDS + 1) * 1000);
    const past = await late.request(b.callback);
    assert.equal(past.status, 400, 'past the grace period the old URI is refused');
    await past.text();
    const events = (await t.api('GET', '/tenants/acme/audit?action=federation.sign_in&limit=20')).body.events as { outcome: string; details: { reason?: string; redirect_grace?: boolean } }[];
    assert.ok(events.some((e) => e.outcome === 'success' && e.details.redirect_grace === true), 'the grace callback is audited as such');
    assert.ok(events.some((e) => e.outcome === 'failure' && e.details.reason === 'redirect_uri_mismatch'));
  });
});
