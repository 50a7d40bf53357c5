/**
 * Issue 14, item 3: claims_mapping onto every OpenID Connect standard claim (Core 1.0
 * section 5.1) but `sub`. A plain oidc-provider upstream on loopback sends nested custom
 * claims; the connection maps them; Atrium keeps them per user (users.profile, and the
 * phone columns for phone_number) at every federated sign-in and serves them to its own
 * relying parties by scope (profile, phone, address) through openid-client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest as clientAuthorizationRequest, createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { httpFetch, TestBrowser } from './support/http-client.ts';
import { startPlainProvider, type PlainAccount, type PlainProvider } from './support/plain-oidc-provider.ts';
import { finishDownstream, signInAtPlainUpstream, startAtUpstream, type Downstream } from './support/federation-flow.ts';
import { runAsTenant } from '../src/core/request-context.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let plain: PlainProvider;
let logged = '';
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged += chunk.toString();
    done();
  },
});

const MAPPING = {
  given_name: '/person/first',
  family_name: '/person/last',
  middle_name: '/person/middle',
  nickname: 'nick',
  preferred_username: 'uname',
  profile: 'page',
  picture: 'pic',
  website: 'web',
  gender: 'gender',
  birthdate: 'bday',
  zoneinfo: 'tz',
  locale: 'lang',
  phone_number: 'tel',
  phone_number_verified: 'tel_ok',
  address: '/org/addr',
};
const UPSTREAM_CLAIMS = ['person', 'nick', 'uname', 'page', 'pic', 'web', 'gender', 'bday', 'tz', 'lang', 'tel', 'tel_ok', 'org'];

const cy = (): PlainAccount => ({
  email: 'cy@corp.test',
  email_verified: true,
  name: 'Cy Young',
  person: { first: 'Cy', last: 'Young', middle: 'Denton' },
  nick: 'cyy',
  uname: 'cy.young',
  page: 'https://people.corp.test/cy',
  pic: 'https://people.corp.test/cy.png',
  web: 'https://cy.example.test/',
  gender: 'male',
  bday: '1967-03-29',
  tz: 'Europe/Stockholm',
  lang: 'sv-SE',
  tel: '+46 70 123 45 67',
  tel_ok: true,
  org: { addr: { street_address: 'Drottninggatan 1', locality: 'Stockholm', postal_code: '111 51', country: 'SE' } },
});

const PROFILE_CLAIMS = ['sub', 'name', 'given_name', 'family_name', 'middle_name', 'nickname', 'preferred_username', 'profile', 'picture', 'website', 'gender', 'birthdate', 'zoneinfo', 'locale', 'updated_at'];

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

/** A federated sign-in at acme through `connection` asking `scope`; answers the ID token's claims and userinfo. */
async function signIn(connection: string, email: string, scope: string) {
  const { url, ...rest } = await clientAuthorizationRequest(acme.issuer, acme, { scope });
  const request: Downstream = { fixture: acme, ...rest, authUrl: url };
  const browser = new TestBrowser();
  const upstreamUrl = await startAtUpstream(browser, request, connection);
  const callback = await signInAtPlainUpstream(browser, upstreamUrl, email, t.port);
  const done = await finishDownstream(browser, callback);
  assert.ok(done.redirect, `sign-in finished: ${done.status} ${done.html.slice(0, 300)}`);
  const tokens = await oidc.authorizationCodeGrant(request.config, done.redirect, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  const idToken = tokens.claims()!;
  const userinfo = await oidc.fetchUserInfo(request.config, tokens.access_token, idToken.sub);
  return { idToken, userinfo, accessToken: tokens.access_token };
}

async function userByEmail(slug: string, email: string) {
  const res = await t.api('GET', `/tenants/${slug}/users?limit=100`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const user = (res.body.users as { id: string; email: string; profile: Record<string, unknown> }[]).find((u) => u.email === email);
  assert.ok(user, `${email} exists`);
  return user;
}

before(async () => {
  t = await startTestAtrium({ LOG_LEVEL: 'warn' }, { logStream: logSink });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
  plain = await startPlainProvider({
    redirectUris: [`${t.issuer('acme')}/federation/callback`],
    accounts: { 'sub-cy': cy(), 'sub-dee': { email: 'dee@corp.test', email_verified: true, name: 'Dee' } },
    scopeClaims: { profile: UPSTREAM_CLAIMS },
  });
  assert.equal((await put('acme', 'corp', plainConnection({ claims_mapping: MAPPING }))).status, 201);
});
after(async () => {
  await plain?.close();
  await t?.stop();
});

describe('claims_mapping onto the standard claims: the connection', () => {
  it('accepts every standard claim of OpenID Connect Core 1.0 section 5.1 as a target, and echoes the mapping', async () => {
    const all = { ...MAPPING, email: 'mail', email_verified: 'mail_ok', name: '/person/full', updated_at: 'changed', roles: 'groups' };
    const res = await put('acme', 'everything', plainConnection({ claims_mapping: all }));
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.deepEqual(res.body.claims_mapping, all);
    assert.equal((await t.api('DELETE', '/tenants/acme/federation/everything')).status, 204);
  });

  it('refuses `sub` as a target (Atrium owns sub), and still refuses unknown targets, bad paths and huge mappings, with a 400 naming them', async () => {
    const sub = await put('acme', 'bad', plainConnection({ claims_mapping: { sub: 'employee_id' } }));
    assert.equal(sub.status, 400, JSON.stringify(sub.body));
    assert.match(sub.body.error_description, /claims_mapping: cannot map onto "sub"/);
    assert.match(sub.body.error_description, /Atrium issues sub/);
    assert.ok(sub.body.correlation_id);
    const other = await put('acme', 'bad', plainConnection({ claims_mapping: { department: '/org/dept' } }));
    assert.equal(other.status, 400);
    assert.match(other.body.error_description, /"department" is not a claim Atrium keeps/);
    const badPath = await put('acme', 'bad', plainConnection({ claims_mapping: { address: '/org//addr' } }));
    assert.equal(badPath.status, 400);
    assert.match(badPath.body.error_description, /claims_mapping\.address: must be a JSON Pointer/);
    const many = await put('acme', 'bad', plainConnection({ claims_mapping: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`c${i}`, 'x'])) }));
    assert.ok(many.status === 400 || many.status === 413, `many targets: ${many.status}`);
    assert.equal((await t.api('GET', '/tenants/acme/federation/bad')).status, 404, 'nothing was stored');
  });

  it('discovery lists the claims Atrium serves, the phone and address scopes among its scopes', async () => {
    const res = await httpFetch(`${acme.issuer}/.well-known/openid-configuration`);
    const metadata = (await res.json()) as { claims_supported: string[]; scopes_supported: string[] };
    for (const claim of [...PROFILE_CLAIMS, 'email', 'email_verified', 'phone_number', 'phone_number_verified', 'address']) assert.ok(metadata.claims_supported.includes(claim), claim);
    for (const scope of ['profile', 'phone', 'address']) assert.ok(metadata.scopes_supported.includes(scope), scope);
  });
});

describe('claims_mapping onto the standard claims: sign-in', () => {
  it('nested upstream claims reach the relying party for exactly the scopes it asked for', async () => {
    const { idToken, userinfo } = await signIn('corp', 'cy@corp.test', 'openid profile phone address');
    assert.deepEqual(Object.keys(userinfo).sort(), [...PROFILE_CLAIMS, 'phone_number', 'phone_number_verified', 'address'].sort());
    assert.equal(userinfo.given_name, 'Cy');
    assert.equal(userinfo.family_name, 'Young');
    assert.equal(userinfo.middle_name, 'Denton');
    assert.equal(userinfo.nickname, 'cyy');
    assert.equal(userinfo.preferred_username, 'cy.young');
    assert.equal(userinfo.profile, 'https://people.corp.test/cy');
    assert.equal(userinfo.picture, 'https://people.corp.test/cy.png');
    assert.equal(userinfo.website, 'https://cy.example.test/');
    assert.equal(userinfo.gender, 'male');
    assert.equal(userinfo.birthdate, '1967-03-29');
    assert.equal(userinfo.zoneinfo, 'Europe/Stockholm');
    assert.equal(userinfo.locale, 'sv-SE');
    assert.equal(userinfo.phone_number, '+46701234567', 'E.164');
    assert.equal(userinfo.phone_number_verified, true);
    assert.deepEqual(userinfo.address, { street_address: 'Drottninggatan 1', locality: 'Stockholm', postal_code: '111 51', country: 'SE' });
    assert.equal(userinfo.email, undefined, 'the email scope was not asked for');
    assert.equal(idToken.given_name, undefined, 'with an access token, the ID token carries only openid claims');

    const narrow = await signIn('corp', 'cy@corp.test', 'openid email');
    for (const claim of ['given_name', 'family_name', 'picture', 'locale', 'phone_number', 'phone_number_verified', 'address', 'name']) assert.equal(narrow.userinfo[claim], undefined, `${claim} without its scope`);
    assert.equal(narrow.userinfo.email, 'cy@corp.test');

    const onlyPhone = await signIn('corp', 'cy@corp.test', 'openid phone');
    assert.deepEqual(Object.keys(onlyPhone.userinfo).sort(), ['phone_number', 'phone_number_verified', 'sub']);
  });

  it('a later sign-in with changed upstream values updates the profile, audited once per change; unchanged, nothing is audited', async () => {
    await signIn('corp', 'cy@corp.test', 'openid profile');
    const before = (await t.api('GET', '/tenants/acme/audit?action=user.profile_updated&limit=50')).body.events as unknown[];
    await signIn('corp', 'cy@corp.test', 'openid profile');
    const unchanged = (await t.api('GET', '/tenants/acme/audit?action=user.profile_updated&limit=50')).body.events as unknown[];
    assert.equal(unchanged.length, before.length, 'the same values leave no audit event');

    plain.accounts.set('sub-cy', { ...cy(), person: { first: 'Cyrus', last: 'Young' }, tel: '+46 70 765 43 21', org: { addr: { locality: 'Uppsala', country: 'SE' } } });
    const { userinfo } = await signIn('corp', 'cy@corp.test', 'openid profile phone address');
    assert.equal(userinfo.given_name, 'Cyrus');
    assert.equal(userinfo.middle_name, undefined, 'a claim the upstream no longer sends is gone');
    assert.equal(userinfo.phone_number, '+46707654321');
    assert.deepEqual(userinfo.address, { locality: 'Uppsala', country: 'SE' });
    const events = (await t.api('GET', '/tenants/acme/audit?action=user.profile_updated&limit=50')).body.events as { actor: string; target: string; details: { connection: string; changed: string[] } }[];
    assert.equal(events.length, before.length + 1);
    const event = events[0]!;
    assert.equal(event.actor, 'federation:corp');
    assert.deepEqual([...event.details.changed].sort(), ['address', 'given_name', 'middle_name', 'phone_number']);
    const user = await userByEmail('acme', 'cy@corp.test');
    assert.equal(event.target, user.id);
    assert.equal(user.profile.given_name, 'Cyrus', 'the management API shows the profile');
    plain.accounts.set('sub-cy', cy());
    assert.equal((await signIn('corp', 'cy@corp.test', 'openid profile')).userinfo.given_name, 'Cy');
  });

  it('values that fail validation are dropped (logged and audited by name), never stored raw and never a 500', async () => {
    plain.accounts.set('sub-cy', {
      ...cy(),
      person: { first: 'x'.repeat(5_000), last: ['not', 'a', 'string'] },
      pic: 'javascript:alert(1)',
      web: 'not a url',
      bday: '1967-02-30',
      tz: '../../etc/passwd',
      lang: 'en US!',
      tel: '+1 555 0100',
      tel_ok: 'perhaps',
      org: { addr: { street_address: { nested: true }, locality: 'Lund', planet: 'Mars' } },
    });
    const logFrom = logged.length;
    const { userinfo } = await signIn('corp', 'cy@corp.test', 'openid profile phone address');
    const warning = logged.slice(logFrom).split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; dropped_claims?: string[] }).find((l) => l.dropped_claims);
    assert.ok(warning, 'a warning names the dropped claims');
    assert.ok(!logged.slice(logFrom).includes('javascript:'), 'the log names claims, not their values');
    for (const claim of ['given_name', 'family_name', 'picture', 'website', 'birthdate', 'zoneinfo', 'locale']) assert.equal(userinfo[claim], undefined, `${claim} dropped`);
    assert.deepEqual(userinfo.address, { locality: 'Lund' }, 'only the standard, valid address fields');
    assert.equal(userinfo.nickname, 'cyy', 'valid values stay');
    assert.equal(userinfo.phone_number, '+46701234567', 'an invalid number does not replace the one kept');
    const user = await userByEmail('acme', 'cy@corp.test');
    assert.ok(!JSON.stringify(user.profile).includes('javascript:'), 'nothing raw is stored');
    const signIns = (await t.api('GET', '/tenants/acme/audit?action=federation.sign_in&limit=5')).body.events as { details: { dropped_claims?: string[] } }[];
    assert.deepEqual([...(signIns[0]?.details.dropped_claims ?? [])].sort(), ['birthdate', 'family_name', 'given_name', 'locale', 'phone_number', 'phone_number_verified', 'picture', 'website', 'zoneinfo']);
    plain.accounts.set('sub-cy', cy());
    await signIn('corp', 'cy@corp.test', 'openid');
  });

  it('an upstream number not said to be verified is not taken as the user\'s phone (phone_number_verified decides)', async () => {
    plain.accounts.set('sub-dee', { email: 'dee@corp.test', email_verified: true, name: 'Dee', tel: '+46 70 111 22 33' });
    const { userinfo } = await signIn('corp', 'dee@corp.test', 'openid phone');
    assert.equal(userinfo.phone_number, undefined);
    plain.accounts.set('sub-dee', { email: 'dee@corp.test', email_verified: true, name: 'Dee', tel: '+46 70 111 22 33', tel_ok: true });
    assert.equal((await signIn('corp', 'dee@corp.test', 'openid phone')).userinfo.phone_number, '+46701112233');
  });
});

describe('claims_mapping onto the standard claims: isolation', () => {
  it('the profile goes with the user: deleting the user deletes it', async () => {
    await signIn('corp', 'dee@corp.test', 'openid');
    const dee = await userByEmail('acme', 'dee@corp.test');
    const acmeId = (await t.atrium.services.tenantStore.findBySlug('acme'))!.id;
    assert.equal((await t.api('DELETE', `/tenants/acme/users/${dee.id}`)).status, 204);
    const left = await runAsTenant(acmeId, () => t.atrium.services.db.withTenant((q) => q.query('SELECT profile FROM users WHERE id = $1', [dee.id])));
    assert.equal(left.rowCount, 0);
  });


  it("another tenant never sees the profile: not by its API, not with acme's token at its userinfo", async () => {
    const { accessToken } = await signIn('corp', 'cy@corp.test', 'openid profile');
    const user = await userByEmail('acme', 'cy@corp.test');
    assert.equal((await t.api('GET', `/tenants/globex/users/${user.id}`)).status, 404);
    const res = await httpFetch(`${globex.issuer}/me`, { headers: { authorization: `Bearer ${accessToken}` } });
    assert.equal(res.status, 401);
    assert.ok(!(await res.text()).includes('Cy'));
  });

  it("row-level security: a tenant context cannot read another tenant's profile", async () => {
    const user = await userByEmail('acme', 'cy@corp.test');
    const ids = { acme: (await t.atrium.services.tenantStore.findBySlug('acme'))!.id, globex: (await t.atrium.services.tenantStore.findBySlug('globex'))!.id };
    const read = (tenantId: string) => runAsTenant(tenantId, () => t.atrium.services.db.withTenant((q) => q.query<{ profile: Record<string, unknown> }>('SELECT profile FROM users WHERE id = $1', [user.id])));
    assert.equal((await read(ids.acme)).rows[0]?.profile.given_name, 'Cy');
    assert.equal((await read(ids.globex)).rowCount, 0);
    const write = await runAsTenant(ids.globex, () => t.atrium.services.db.withTenant((q) => q.query(`UPDATE users SET profile = '{"given_name":"Mallory"}' WHERE id = $1`, [user.id])));
    assert.equal(write.rowCount, 0, "globex's context has no such row to change");
    assert.equal((await read(ids.acme)).rows[0]?.profile.given_name, 'Cy', 'unchanged');
  });
});
