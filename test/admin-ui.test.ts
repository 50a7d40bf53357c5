/**
 * /admin on a tenant's host over HTTP: who may open it (owners and admins, a handed-off
 * platform admin; not a member, not a visitor, not another tenant's user), CSRF on every
 * form, each area's changes reaching the real services (a created client's secret works
 * at the token endpoint, a saved palette reaches /branding.css, a rotated key signs), and
 * every change audited with the admin as the actor.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { stepAt, totpCode } from '../src/mfa/totp.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
const member = { email: 'member@acme.test', password: 'member-password-long', id: '' };
const admin = { email: 'admin@acme.test', password: 'admin-password-long', id: '' };
/**
 * The security section every test starts from: this file signs in from one IP far more
 * often than the default per-IP login limit (20 a minute) allows.
 */
const BASE_SECURITY = { rate_limits: { login_per_ip: { limit: 600, window_seconds: 60 } } };

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme'); // its user is the first, so the owner
  globex = await createTenantFixture(t, 'globex');
  for (const slug of ['acme', 'globex']) assert.equal((await t.api('PUT', `/tenants/${slug}/config/security`, BASE_SECURITY)).status, 200);
  for (const [who, roles] of [[member, ['member']], [admin, ['admin']]] as const) {
    const res = await t.api('POST', '/tenants/acme/users', { email: who.email, password: who.password, roles, email_verified: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    who.id = res.body.id;
  }
});
after(() => t?.stop());

interface Session { browser: TestBrowser; csrf: string; origin: string }

/** Signs in to a tenant's console pages and keeps the page's CSRF token. */
async function session(origin: string, credentials: { email: string; password: string }): Promise<Session> {
  const { browser, html, status, url } = await signInToConsole(origin, credentials, '/account');
  assert.equal(status, 200, html.slice(0, 300));
  assert.equal(url.pathname, '/account', 'signed in (no further step asked)');
  return { browser, csrf: hiddenInput(html, 'csrf'), origin };
}

async function get(s: Session, path: string): Promise<{ status: number; html: string; location: string | null }> {
  const res = await s.browser.request(`${s.origin}${path}`);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function post(s: Session, path: string, form: Record<string, string> | URLSearchParams, csrf: string | null = s.csrf): Promise<{ status: number; html: string; location: string | null }> {
  const body = new URLSearchParams(form);
  if (csrf !== null) body.set('csrf', csrf);
  const res = await s.browser.request(`${s.origin}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function auditEvents(slug: string, action: string): Promise<{ actor: string; target: string; details: Record<string, unknown> }[]> {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}&limit=200`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

/** A client-credentials grant at the tenant's token endpoint with the given secret. */
async function clientCredentials(origin: string, clientId: string, secret: string): Promise<number> {
  const res = await httpFetch(`${origin}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  await res.body?.cancel();
  return res.status;
}

/** A successful POST ends in a 303 (post/redirect/get): the page it names, as the browser would GET it. */
async function afterRedirect(s: Session, res: { status: number; html: string; location: string | null }): Promise<{ status: number; html: string }> {
  assert.equal(res.status, 303, res.html.slice(0, 500));
  const page = await get(s, res.location!);
  assert.equal(page.status, 200, res.location!);
  return page;
}

const secretOf = (html: string) => /id="client-secret">([^<]+)</.exec(html)?.[1];
const clientIdOf = (html: string) => /id="client-id">([^<]+)</.exec(html)?.[1];

/** Every page of /admin, with ids that exist. */
function getRoutes(): string[] {
  return ['/admin', '/admin/users', '/admin/users/new', `/admin/users/${member.id}`, '/admin/clients', '/admin/clients/new', `/admin/clients/${acme.clientId}`, '/admin/roles', '/admin/branding', '/admin/security', '/admin/keys', '/admin/audit'];
}

/** Every form target of /admin, with a body that would be accepted given the CSRF token. */
function postRoutes(): [string, Record<string, string>][] {
  return [
    ['/admin/users', { email: 'csrf-probe@acme.test', roles: 'member' }],
    [`/admin/users/${member.id}/roles`, { roles: 'admin' }],
    [`/admin/users/${member.id}/status`, { status: 'disabled' }],
    [`/admin/users/${member.id}/delete`, { confirm: 'on' }],
    [`/admin/users/${member.id}/mfa/reset`, {}],
    [`/admin/users/${member.id}/unlock`, {}],
    [`/admin/users/${member.id}/sessions/revoke`, {}],
    ['/admin/clients', { client_name: 'probe', kind: 'service' }],
    [`/admin/clients/${acme.clientId}`, { client_name: 'renamed', redirect_uris: 'https://evil.example/cb' }],
    [`/admin/clients/${acme.clientId}/secret`, {}],
    [`/admin/clients/${acme.clientId}/delete`, { confirm: 'on' }],
    ['/admin/branding', { company_name: 'Probe' }],
    ['/admin/security', { min_length: '12', mfa_required: 'off', signup_mode: 'closed' }],
    ['/admin/keys/rotate', {}],
    ['/admin/roles', { name: 'csrf-probe' }],
    ['/admin/roles/csrf-probe/delete', {}],
  ];
}

describe('/admin access', () => {
  it('sends a visitor to sign in (GET) and refuses forms (POST)', async () => {
    const browser = new TestBrowser();
    for (const path of getRoutes()) {
      const res = await browser.request(`${acme.issuer}${path}`);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.get('location'), `/account/login?${new URLSearchParams({ return_to: path }).toString()}`, path);
    }
    for (const [path, form] of postRoutes()) {
      const res = await browser.postForm(`${acme.issuer}${path}`, { ...form, csrf: 'x' });
      assert.equal(res.status, 401, path);
    }
  });

  it('brings an admin back to the page they asked for after sign-in', async () => {
    const { url, status, html } = await signInToConsole(acme.issuer, admin, '/admin/keys');
    assert.equal(status, 200);
    assert.equal(url.pathname, '/admin/keys');
    assert.match(html, /<h1>Signing keys<\/h1>/);
  });

  it('refuses a member every page and every form (403)', async () => {
    const s = await session(acme.issuer, member);
    for (const path of getRoutes()) assert.equal((await get(s, path)).status, 403, path);
    for (const [path, form] of postRoutes()) assert.equal((await post(s, path, form)).status, 403, path);
    const me = await t.api('GET', `/tenants/acme/users/${member.id}`);
    assert.deepEqual(me.body.roles, ['member'], 'nothing changed');
    assert.equal(me.body.status, 'active');
    // The member's own page has no link to /admin.
    assert.doesNotMatch((await get(s, '/account')).html, /href="\/admin"/);
  });

  it("gives a user of another tenant nothing: their cookie is not a session here", async () => {
    const other = await session(globex.issuer, globex);
    const globexCookies = other.browser.jar.get(new URL(globex.issuer).host)!;
    // The same cookie values, under acme's host and cookie names.
    const forged = new TestBrowser();
    forged.jar.set(new URL(acme.issuer).host, new Map([...globexCookies].map(([k, v]) => [k.replace('globex', 'acme'), v])));
    const s: Session = { browser: forged, csrf: other.csrf, origin: acme.issuer };
    for (const path of getRoutes()) {
      const res = await get(s, path);
      assert.equal(res.status, 302, path);
      assert.match(res.location ?? '', /^\/account\/login\?/, path);
    }
    for (const [path, form] of postRoutes()) assert.equal((await post(s, path, form)).status, 401, path);
    // On their own tenant's /admin, acme's users and clients do not exist.
    assert.equal((await get(other, `/admin/users/${acme.userId}`)).status, 404);
    assert.equal((await get(other, `/admin/clients/${acme.clientId}`)).status, 404);
    const list = await get(other, '/admin/users');
    assert.equal(list.status, 200);
    assert.ok(list.html.includes(globex.email));
    assert.ok(!list.html.includes(acme.email), "another tenant's users never show");
  });

  it("lets another tenant's owner change none of this tenant's users or clients, and answers 404 for ids no record has", async () => {
    const other = await session(globex.issuer, globex);
    // Every form that names one of acme's users or clients, sent by globex's owner on globex's /admin.
    for (const [path, form] of postRoutes().filter(([p]) => p.includes(member.id) || p.includes(acme.clientId))) {
      assert.equal((await post(other, path, form)).status, 404, path);
    }
    const user = await t.api('GET', `/tenants/acme/users/${member.id}`);
    assert.equal(user.status, 200, 'the user is still there');
    assert.equal(user.body.status, 'active');
    assert.deepEqual(user.body.roles, ['member']);
    assert.equal((await t.api('GET', `/tenants/acme/clients/${acme.clientId}`)).status, 200, 'the client is still there');
    // Ids of the wrong shape, or far too long, are simply not found.
    for (const path of ['/admin/users/not-a-uuid', `/admin/users/${'a'.repeat(5000)}`, '/admin/clients/%00', `/admin/clients/${'c'.repeat(5000)}`]) {
      assert.equal((await get(other, path)).status, 404, path.slice(0, 40));
    }
    assert.equal((await post(other, '/admin/users/not-a-uuid/status', { status: 'disabled' })).status, 404);
    assert.equal((await post(other, `/admin/clients/${'c'.repeat(5000)}/delete`, { confirm: 'on' })).status, 404);
  });

  it('has every string of every page in English and French', async () => {
    const s = await session(acme.issuer, acme);
    const untranslated = /(?<![\w/])admin\.(?!css)[a-z_]+/;
    for (const [lang, sample] of [['en', 'Users'], ['fr', 'Utilisateurs']] as const) {
      for (const path of [...getRoutes(), `/admin/users/${acme.userId}?done=roles`, '/admin/keys?done=rotated']) {
        const res = await s.browser.request(`${acme.issuer}${path}`, { headers: { 'accept-language': lang } });
        const html = await res.text();
        assert.equal(res.status, 200, path);
        assert.match(html, new RegExp(`<html lang="${lang}">`), path);
        assert.doesNotMatch(html, untranslated, `${lang} ${path}`);
        assert.match(html, new RegExp(`>${sample}<`), path);
      }
    }
  });

  it('requires the CSRF token on every form', async () => {
    const s = await session(acme.issuer, acme);
    for (const [path, form] of postRoutes()) {
      assert.equal((await post(s, path, form, null)).status, 403, `${path} without a token`);
      assert.equal((await post(s, path, form, 'forged-token')).status, 403, `${path} with a forged token`);
    }
    // A token of another session is not this session's token.
    const other = await session(acme.issuer, admin);
    assert.equal((await post(s, '/admin/keys/rotate', {}, other.csrf)).status, 403);
    assert.equal((await t.api('GET', `/tenants/acme/users/${member.id}`)).body.status, 'active', 'nothing changed');
    assert.equal((await t.api('GET', `/tenants/acme/clients/${acme.clientId}`)).status, 200, 'the client is still there');
    assert.equal((await auditEvents('acme', 'keys.rotated')).length, 0);
  });
});

describe('/admin for a handed-off platform admin', () => {
  async function acmeTenant() {
    return (await t.atrium.services.tenantStore.findBySlug('acme'))!;
  }
  /**
   * A hand-off into `browser` without the platform's pages (platform-handoff.test.ts drives
   * those): the tenant host binds it to the browser, the service mints the code for that binding.
   */
  async function handoffUrl(browser: TestBrowser): Promise<string> {
    const start = await browser.request(`${acme.issuer}/account/handoff/start`);
    const binding = new URL(start.headers.get('location')!).searchParams.get('binding')!;
    return t.atrium.services.consoleAuth.handoff.codeUrl(await acmeTenant(), platformAdmin, binding);
  }
  /** A platform admin of the platform tenant (a hand-off is re-checked against it on every request). */
  let platformAdmin: { id: string; email: string };
  before(async () => {
    const created = await t.api('POST', '/tenants/_platforms/users', { email: 'ops@platform.test', password: 'the ops passphrase', roles: ['platform_admin'], email_verified: true });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    platformAdmin = { id: created.body.id, email: 'ops@platform.test' };
  });

  it('opens the tenant\'s /admin once, and audits changes as platform:<id>', async () => {
    const browser = new TestBrowser();
    const url = await handoffUrl(browser);
    const landed = await browser.follow(url);
    const html = await landed.res.text();
    assert.equal(landed.res.status, 200, html.slice(0, 300));
    assert.equal(landed.url.pathname, '/admin');
    assert.match(html, /Platform administrator ops@platform\.test/);
    const s: Session = { browser, csrf: hiddenInput(html, 'csrf'), origin: acme.issuer };
    assert.equal((await get(s, '/admin/users')).status, 200);
    const rotated = await post(s, '/admin/keys/rotate', {});
    assert.equal(rotated.status, 303);
    const events = await auditEvents('acme', 'keys.rotated');
    assert.equal(events[0]?.actor, `platform:${platformAdmin.id}`);
    // A platform admin may act on owners (the owner role is theirs to grant).
    const made = await post(s, `/admin/users/${admin.id}/roles`, new URLSearchParams([['roles', 'owner'], ['roles', 'admin']]));
    assert.equal(made.status, 303, made.html.slice(0, 500));
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${admin.id}`)).body.roles, ['owner', 'admin']);
    const back = await post(s, `/admin/users/${admin.id}/roles`, { roles: 'admin' });
    assert.equal(back.status, 303);
    assert.equal((await auditEvents('acme', 'user.roles_changed'))[0]?.actor, `platform:${platformAdmin.id}`);

    // The link is single-use, and works in no other browser.
    assert.equal((await browser.request(url)).status, 400);
    assert.equal((await new TestBrowser().request(url)).status, 400);
  });

  it('ends the handed-off session once the platform admin is disabled or loses the role', async () => {
    for (const change of [{ status: 'disabled' }, { roles: ['member'] }]) {
      const browser = new TestBrowser();
      const landed = await browser.follow(await handoffUrl(browser));
      await landed.res.body?.cancel();
      assert.equal(landed.url.pathname, '/admin');
      assert.equal((await browser.request(`${acme.issuer}/admin/users`)).status, 200);
      assert.equal((await t.api('PATCH', `/tenants/_platforms/users/${platformAdmin.id}`, change)).status, 200);
      const after = await browser.request(`${acme.issuer}/admin/users`);
      await after.body?.cancel();
      assert.notEqual(after.status, 200, `${JSON.stringify(change)}: the tenant's /admin is closed to them`);
      assert.equal((await t.api('PATCH', `/tenants/_platforms/users/${platformAdmin.id}`, { status: 'active', roles: ['platform_admin'] })).status, 200);
    }
  });

  it('refuses a link opened on another tenant\'s host, or an expired one', async () => {
    const browser = new TestBrowser();
    const url = new URL(await handoffUrl(browser));
    const elsewhere = new URL(url.pathname + url.search, globex.issuer);
    browser.jar.set(elsewhere.host, new Map(browser.jar.get(url.host)));
    assert.equal((await browser.request(elsewhere)).status, 400, 'bound to its tenant');
    const stale = new TestBrowser();
    const realNow = Date.now;
    let expired: string;
    const binding = new URL((await stale.request(`${acme.issuer}/account/handoff/start`)).headers.get('location')!).searchParams.get('binding')!;
    try {
      Date.now = () => realNow() - 61_000; // minted 61 s ago: its one minute is over
      expired = t.atrium.services.consoleAuth.handoff.codeUrl(await acmeTenant(), platformAdmin, binding);
    } finally {
      Date.now = realNow;
    }
    assert.equal((await stale.request(expired)).status, 400, 'expired');
    // The one bound to acme still works there (it was not used by the attempt on globex).
    assert.equal((await browser.request(url)).status, 302);
  });
});

describe('/admin/clients', () => {
  it('creates a client whose secret is shown exactly once and works, rotates and deletes it', async () => {
    const s = await session(acme.issuer, acme);
    const created = await afterRedirect(s, await post(s, '/admin/clients', { client_name: 'Billing service', kind: 'service' }));
    const clientId = clientIdOf(created.html)!;
    const secret = secretOf(created.html)!;
    assert.ok(clientId && secret, 'the page shows the client id and its secret');
    assert.equal(await clientCredentials(acme.issuer, clientId, secret), 200, 'the secret works at the token endpoint');
    assert.equal(await clientCredentials(globex.issuer, clientId, secret), 401, "it is not a client of another tenant");

    // Never again: not on the client's page, the list, the audit log, the overview.
    for (const path of [`/admin/clients/${clientId}`, '/admin/clients', '/admin/audit', '/admin', '/admin/audit?action=client.created']) {
      const page = await get(s, path);
      assert.equal(page.status, 200, path);
      assert.ok(!page.html.includes(secret), `the secret must not appear on ${path}`);
    }
    const api = await t.api('GET', `/tenants/acme/clients/${clientId}`);
    assert.ok(!JSON.stringify(api.body).includes(secret));

    const rotated = await afterRedirect(s, await post(s, `/admin/clients/${clientId}/secret`, {}));
    const fresh = secretOf(rotated.html)!;
    assert.ok(fresh && fresh !== secret);
    assert.equal(await clientCredentials(acme.issuer, clientId, secret), 401, 'the old secret no longer works');
    assert.equal(await clientCredentials(acme.issuer, clientId, fresh), 200);
    assert.ok(!(await get(s, `/admin/clients/${clientId}`)).html.includes(fresh));

    const unconfirmed = await post(s, `/admin/clients/${clientId}/delete`, {});
    assert.equal(unconfirmed.status, 400);
    assert.equal((await post(s, `/admin/clients/${clientId}/delete`, { confirm: 'on' })).status, 303);
    assert.equal((await t.api('GET', `/tenants/acme/clients/${clientId}`)).status, 404);
    assert.equal(await clientCredentials(acme.issuer, clientId, fresh), 401);

    for (const action of ['client.created', 'client.secret_rotated', 'client.deleted']) {
      const event = (await auditEvents('acme', action)).find((e) => e.target === clientId);
      assert.equal(event?.actor, acme.userId, action);
    }
  });

  it('edits redirect URIs through the Provider\'s validation', async () => {
    const s = await session(acme.issuer, admin);
    const created = await afterRedirect(s, await post(s, '/admin/clients', { client_name: 'Portal', kind: 'web', redirect_uris: 'https://portal.example/cb\n\nhttps://portal.example/cb2' }));
    const clientId = clientIdOf(created.html)!;
    assert.ok(secretOf(created.html), 'a web client gets a secret');
    const bad = await post(s, `/admin/clients/${clientId}`, { client_name: 'Portal', redirect_uris: 'not a url' });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /redirect_uris/);
    const ok = await post(s, `/admin/clients/${clientId}`, { client_name: 'Portal 2', redirect_uris: 'https://portal.example/new' });
    assert.equal(ok.status, 303);
    const api = await t.api('GET', `/tenants/acme/clients/${clientId}`);
    assert.deepEqual(api.body.redirect_uris, ['https://portal.example/new']);
    assert.equal(api.body.client_name, 'Portal 2');
    assert.equal((await auditEvents('acme', 'client.updated')).find((e) => e.target === clientId)?.actor, admin.id);

    const pub = await afterRedirect(s, await post(s, '/admin/clients', { client_name: 'App', kind: 'public', redirect_uris: 'https://app.example/cb' }));
    assert.equal(secretOf(pub.html), undefined, 'a public client has no secret');
    assert.equal((await post(s, `/admin/clients/${clientIdOf(pub.html)!}/secret`, {})).status, 400, 'nor can one be rotated');
    const missingKind = await post(s, '/admin/clients', { client_name: 'x' });
    assert.equal(missingKind.status, 400);
  });
});

describe('/admin/users', () => {
  it('creates, finds, assigns roles, disables, enables and deletes a user, auditing each', async () => {
    const s = await session(acme.issuer, acme);
    const weak = await post(s, '/admin/users', { email: 'carol@acme.test', password: 'short', roles: 'member' });
    assert.equal(weak.status, 400);
    assert.match(weak.html, /at least 8 characters/);
    assert.match(weak.html, /value="carol@acme\.test"/, 'the form keeps what was typed (not the password)');

    const created = await post(s, '/admin/users', { email: 'carol@acme.test', name: 'Carol', password: 'carol-password-long', roles: 'member', email_verified: 'on' });
    assert.equal(created.status, 303, created.html.slice(0, 500));
    const id = /\/admin\/users\/([0-9a-f-]{36})/.exec(created.location!)![1]!;
    const duplicate = await post(s, '/admin/users', { email: 'CAROL@acme.test', roles: 'member' });
    assert.equal(duplicate.status, 409);

    const found = await get(s, '/admin/users?q=carol');
    assert.ok(found.html.includes('carol@acme.test'));
    assert.ok(!found.html.includes(member.email), 'the search filters');

    assert.equal((await post(s, `/admin/users/${id}/roles`, new URLSearchParams([['roles', 'admin'], ['roles', 'member']]))).status, 303);
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${id}`)).body.roles, ['admin', 'member']);
    assert.equal((await post(s, `/admin/users/${id}/roles`, { roles: 'superuser' })).status, 400);
    assert.equal((await post(s, `/admin/users/${id}/roles`, {})).status, 400, 'at least one role');

    // Carol signs in; disabling her ends her console session at once.
    const carol = await session(acme.issuer, { email: 'carol@acme.test', password: 'carol-password-long' });
    assert.equal((await get(carol, '/admin')).status, 200, 'an admin now');
    assert.equal((await post(s, `/admin/users/${id}/status`, { status: 'disabled' })).status, 303);
    assert.equal((await t.api('GET', `/tenants/acme/users/${id}`)).body.status, 'disabled');
    assert.equal((await get(carol, '/admin')).status, 302, 'signed out');
    assert.equal((await post(s, `/admin/users/${id}/status`, { status: 'active' })).status, 303);
    assert.equal((await t.api('GET', `/tenants/acme/users/${id}`)).body.status, 'active');

    assert.equal((await post(s, `/admin/users/${id}/delete`, {})).status, 400, 'needs the confirmation box');
    assert.equal((await post(s, `/admin/users/${id}/delete`, { confirm: 'on' })).status, 303);
    assert.equal((await t.api('GET', `/tenants/acme/users/${id}`)).status, 404);
    assert.equal((await get(s, `/admin/users/${id}`)).status, 404);

    for (const action of ['user.created', 'user.roles_changed', 'user.disabled', 'user.enabled', 'user.deleted']) {
      const event = (await auditEvents('acme', action)).find((e) => e.target === id);
      assert.equal(event?.actor, acme.userId, action);
    }
  });

  it('never leaves the tenant without an owner, and keeps the owner role for owners', async () => {
    const owner = await session(acme.issuer, acme);
    const demote = await post(owner, `/admin/users/${acme.userId}/roles`, { roles: 'admin' });
    assert.equal(demote.status, 409);
    assert.match(demote.html, /last owner/);
    assert.equal((await post(owner, `/admin/users/${acme.userId}/status`, { status: 'disabled' })).status, 400, 'not yourself');
    assert.equal((await post(owner, `/admin/users/${acme.userId}/delete`, { confirm: 'on' })).status, 400, 'not yourself');
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${acme.userId}`)).body.roles, ['owner']);

    const adm = await session(acme.issuer, admin);
    assert.equal((await post(adm, `/admin/users/${member.id}/roles`, new URLSearchParams([['roles', 'owner'], ['roles', 'member']]))).status, 403, 'an admin cannot grant owner');
    assert.equal((await post(adm, `/admin/users/${acme.userId}/roles`, { roles: 'member' })).status, 403, 'nor remove it');
    assert.equal((await post(adm, `/admin/users/${acme.userId}/status`, { status: 'disabled' })).status, 403, 'nor disable an owner');
    assert.equal((await post(adm, `/admin/users/${acme.userId}/delete`, { confirm: 'on' })).status, 403, 'nor delete one');
    // The owner's page as an admin sees it keeps the owner role on a save.
    const page = await get(adm, `/admin/users/${acme.userId}`);
    assert.match(page.html, /<input type="hidden" name="roles" value="owner">/);
    assert.equal((await post(adm, `/admin/users/${acme.userId}/roles`, new URLSearchParams([['roles', 'owner'], ['roles', 'member']]))).status, 303);
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${acme.userId}`)).body.roles, ['owner', 'member']);
    assert.equal((await post(owner, `/admin/users/${acme.userId}/roles`, { roles: 'owner' })).status, 303);
  });
});

describe('/admin/users security actions', () => {
  async function newUser(email: string, password: string): Promise<string> {
    const res = await t.api('POST', '/tenants/acme/users', { email, password, roles: ['member'], email_verified: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return res.body.id;
  }
  const acmeTenant = async () => (await t.atrium.services.tenantStore.findBySlug('acme'))!;

  it("resets a user's second factors", async () => {
    const id = await newUser('frank@acme.test', 'frank-password-long');
    const tenant = await acmeTenant();
    const { mfa } = t.atrium.services;
    await runAsTenant(tenant.id, async () => {
      const { secret } = await mfa.startTotpEnrolment(tenant, { id, email: 'frank@acme.test' });
      assert.ok(await mfa.confirmTotpEnrolment(tenant, id, totpCode(secret, stepAt(Date.now()))));
    });
    const s = await session(acme.issuer, acme);
    const page = await get(s, `/admin/users/${id}`);
    assert.match(page.html, /Authenticator app: Yes/);
    const adm = await session(acme.issuer, admin);
    assert.equal((await post(adm, `/admin/users/${acme.userId}/mfa/reset`, {})).status, 403, "an admin cannot reset an owner's factors");
    const reset = await post(s, `/admin/users/${id}/mfa/reset`, {});
    assert.equal(reset.status, 303);
    assert.equal((await runAsTenant(tenant.id, () => mfa.status(id))).enrolled, false);
    assert.match((await get(s, reset.location!)).html, /Second factors removed/);
    assert.equal((await auditEvents('acme', 'user.mfa.mfa_reset')).find((e) => e.target === id)?.actor, acme.userId);
  });

  it('lifts a sign-in lockout', async () => {
    const id = await newUser('gail@acme.test', 'gail-password-long');
    assert.equal((await t.api('PUT', '/tenants/acme/config/security', { ...BASE_SECURITY, lockout: { max_attempts: 3 } })).status, 200);
    try {
      // Three wrong passwords on the login page lock the account: then even the right one is refused.
      const browser = new TestBrowser();
      const start = await browser.follow(`${acme.issuer}/account`);
      let html = await start.res.text();
      for (let i = 0; i < 3; i++) {
        const res = await browser.postForm(`${start.url.href}/login`, { csrf: hiddenInput(html, 'csrf'), email: 'gail@acme.test', password: 'wrong-password-here' });
        assert.equal(res.status, 401);
        html = await res.text();
      }
      await assert.rejects(session(acme.issuer, { email: 'gail@acme.test', password: 'gail-password-long' }), 'locked');

      const s = await session(acme.issuer, acme);
      assert.match((await get(s, `/admin/users/${id}`)).html, /Locked until/);
      assert.equal((await post(s, `/admin/users/${id}/unlock`, {})).status, 303);
      assert.match((await get(s, `/admin/users/${id}`)).html, /Not locked \(0 failed attempts\)/);
      await session(acme.issuer, { email: 'gail@acme.test', password: 'gail-password-long' });
      assert.equal((await auditEvents('acme', 'user.unlocked')).find((e) => e.target === id)?.actor, acme.userId);
    } finally {
      await t.api('PUT', '/tenants/acme/config/security', BASE_SECURITY);
    }
  });

  it('signs a user out everywhere: console pages and the tenant sign-in', async () => {
    await newUser('hana@acme.test', 'hana-password-long');
    const hana = await session(acme.issuer, { email: 'hana@acme.test', password: 'hana-password-long' });
    const s = await session(acme.issuer, acme);
    const id = (await t.api('GET', '/tenants/acme/users?search=hana')).body.users[0].id as string;
    assert.match((await get(s, `/admin/users/${id}`)).html, /Sign out everywhere/);
    assert.equal((await post(s, `/admin/users/${id}/sessions/revoke`, {})).status, 303);
    assert.equal((await get(hana, '/account')).status, 302, 'the console session is gone');
    // So is the sign-in at the tenant: the way back asks for the password again.
    const step = await hana.browser.follow(`${acme.issuer}/account`);
    assert.match(await step.res.text(), /name="password"/);
    assert.equal((await post(s, `/admin/users/${acme.userId}/sessions/revoke`, {})).status, 400, 'not for oneself');
    assert.equal((await auditEvents('acme', 'user.sessions_revoked')).find((e) => e.target === id)?.actor, acme.userId);
  });
});

describe('/admin/branding and /admin/security', () => {
  it('saves branding fields that reach the tenant\'s pages, and names a bad field', async () => {
    const s = await session(acme.issuer, acme);
    const form = (await get(s, '/admin/branding')).html;
    for (const field of ['company_name', 'logo_light', 'logo_dark', 'favicon', 'font_body', 'font_heading', 'light_primary', 'dark_background']) assert.match(form, new RegExp(`name="${field}"`), field);
    const bad = await post(s, '/admin/branding', { company_name: 'Acme Corp', light_primary: 'red' });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /branding\.colors\.light\.primary: must be a hex colour/);
    assert.match(bad.html, /value="Acme Corp"/, 'what was typed stays in the form');

    const saved = await post(s, '/admin/branding', {
      company_name: 'Acme Corp', logo_light: 'https://cdn.example/light.png', logo_dark: 'https://cdn.example/dark.png', favicon: 'https://cdn.example/favicon.ico',
      font_body: 'Inter', font_heading: '', light_primary: '#123456', light_secondary: '', light_background: '', light_text: '', dark_primary: '#abcdef',
    });
    assert.equal(saved.status, 303);
    const config = await t.api('GET', '/tenants/acme/config');
    assert.equal(config.body.branding.company_name, 'Acme Corp');
    assert.deepEqual(config.body.branding.logos, { light: 'https://cdn.example/light.png', dark: 'https://cdn.example/dark.png' });
    assert.equal(config.body.branding.fonts.body, 'Inter');
    assert.equal(config.body.branding.fonts.heading, undefined, 'a blank field is no override');
    const css = await (await httpFetch(`${acme.issuer}/branding.css?v=${Date.now()}`)).text();
    assert.match(css, /--primary: #123456/);
    assert.match(css, /--primary: #abcdef/);
    const after = await get(s, '/admin/branding?done=saved');
    assert.match(after.html, /value="#123456"/);
    assert.match(after.html, /Acme Corp/, 'the company name is on the admin pages too');
    assert.equal((await auditEvents('acme', 'tenant.config_changed')).find((e) => e.details.section === 'branding')?.actor, acme.userId);
  });

  it('saves the security policy through the API\'s validation, keeping the parts it does not show', async () => {
    const put = await t.api('PUT', '/tenants/acme/config/security', { ...BASE_SECURITY, device_matching: true, lockout: { max_attempts: 5 } });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    const s = await session(acme.issuer, admin);
    const form = (await get(s, '/admin/security')).html;
    assert.match(form, /name="lockout_max_attempts"[^>]*value="5"/);

    const floor = await post(s, '/admin/security', { min_length: '4', mfa_required: 'off', signup_mode: 'invite_only' });
    assert.equal(floor.status, 400);
    assert.match(floor.html, /security\.password_policy\.min_length: at least 8/);
    const notNumber = await post(s, '/admin/security', { min_length: 'ten', mfa_required: 'off', signup_mode: 'invite_only' });
    assert.equal(notNumber.status, 400);
    assert.match(notNumber.html, /security\.password_policy\.min_length/);
    const badDomain = await post(s, '/admin/security', { min_length: '10', mfa_required: 'off', signup_mode: 'open', allowed_email_domains: 'not a domain' });
    assert.equal(badDomain.status, 400);
    assert.match(badDomain.html, /security\.signup\.allowed_email_domains/);

    const saved = await post(s, '/admin/security', {
      min_length: '12', require_digit: 'on', mfa_required: 'admins', signup_mode: 'open', allowed_email_domains: 'acme.test\nExample.COM', lockout_max_attempts: '7', lockout_duration_seconds: '600',
    });
    assert.equal(saved.status, 303, saved.html.slice(0, 500));
    const security = (await t.api('GET', '/tenants/acme/config')).body.security;
    assert.equal(security.password_policy.min_length, 12);
    assert.equal(security.password_policy.require_digit, true);
    assert.equal(security.password_policy.require_uppercase, false);
    assert.equal(security.mfa.required, 'admins');
    assert.deepEqual(security.signup, { mode: 'open', allowed_email_domains: ['acme.test', 'example.com'] });
    assert.deepEqual(security.lockout, { max_attempts: 7, duration_seconds: 600 });
    assert.equal(security.device_matching, true, 'a field the form does not show is kept');
    assert.deepEqual(security.rate_limits.login_per_ip, BASE_SECURITY.rate_limits.login_per_ip);
    // The new minimum applies to users created from /admin.
    const short = await post(s, '/admin/users', { email: 'dave@acme.test', password: 'elevenchars', roles: 'member' });
    assert.equal(short.status, 400);
    assert.match(short.html, /at least 12 characters/);
    assert.equal((await auditEvents('acme', 'tenant.config_changed')).find((e) => e.details.section === 'security')?.actor, admin.id);
    // Back to the defaults: with MFA required for admins, the next tests' admins would first have to enrol.
    assert.equal((await t.api('PUT', '/tenants/acme/config/security', BASE_SECURITY)).status, 200);
  });
});

describe('/admin/keys and /admin/audit', () => {
  it('rotates the signing keys: fresh keys become current, the old ones stay published as retired', async () => {
    const s = await session(acme.issuer, acme);
    const before = (await t.api('GET', '/tenants/acme/keys')).body.keys as { kid: string; status: string }[];
    const page = await get(s, '/admin/keys');
    for (const k of before) assert.ok(page.html.includes(k.kid), 'every key is listed');
    const current = before.filter((k) => k.status === 'current').map((k) => k.kid);
    assert.ok(current.length > 0);
    assert.equal((await post(s, '/admin/keys/rotate', {})).status, 303);
    const after = (await t.api('GET', '/tenants/acme/keys')).body.keys as { kid: string; status: string }[];
    const fresh = after.filter((k) => k.status === 'current').map((k) => k.kid);
    assert.ok(fresh.length > 0 && fresh.every((kid) => !current.includes(kid)), 'new current keys');
    for (const kid of current) assert.equal(after.find((k) => k.kid === kid)?.status, 'retired');
    const jwks = (await (await httpFetch(`${acme.issuer}/jwks`)).json()) as { keys: { kid: string }[] };
    for (const kid of [...fresh, ...current]) assert.ok(jwks.keys.some((k) => k.kid === kid), `${kid} is published`);
    const listed = await get(s, '/admin/keys?done=rotated');
    for (const kid of fresh) assert.ok(listed.html.includes(kid));
    const event = (await auditEvents('acme', 'keys.rotated')).find((e) => e.actor === acme.userId);
    assert.equal(event?.target, 'acme');
  });

  it('lists, filters and pages the audit log, and says what is wrong with a bad filter', async () => {
    const s = await session(acme.issuer, acme);
    const all = await get(s, '/admin/audit');
    assert.equal(all.status, 200);
    assert.match(all.html, /console\.sign_in/);
    const filtered = await get(s, `/admin/audit?action=user.created&actor=${acme.userId}`);
    assert.match(filtered.html, /user\.created/);
    // Users are shown by name and email, linked to their own events.
    assert.ok(filtered.html.includes(`<a href="/admin/audit?actor=${acme.userId}"><span class="person" title="${acme.userId}">User of acme <span class="muted">&lt;${acme.email}&gt;</span></span></a>`), filtered.html);
    assert.doesNotMatch(filtered.html, /console\.sign_in/);
    const today = new Date().toISOString().slice(0, 10);
    assert.match((await get(s, `/admin/audit?since=${today}&until=${today}&action=console.sign_in`)).html, /console\.sign_in/, 'the "to" day is included');
    assert.doesNotMatch((await get(s, '/admin/audit?until=2000-01-01&action=console.sign_in')).html, /<code>console\.sign_in/);
    const bad = await get(s, '/admin/audit?since=yesterday');
    assert.equal(bad.status, 400);
    assert.match(bad.html, /since/);
    const badCursor = await get(s, '/admin/audit?cursor=nope');
    assert.equal(badCursor.status, 400);
    // Paging: more events than a page, then "Older" leads on without repeating.
    const tenant = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
    await runAsTenant(tenant.id, async () => {
      for (let i = 0; i < 60; i++) await t.atrium.services.audit.record({ action: 'test.paging', actor: 'test', target: String(i) });
    });
    const first = await get(s, '/admin/audit?action=test.paging');
    const older = /href="([^"]+)" rel="next"/.exec(first.html)?.[1]?.replaceAll('&amp;', '&');
    assert.ok(older, 'a link to older events');
    const second = await get(s, older);
    assert.equal(second.status, 200);
    assert.match(second.html, /test\.paging/);
    const targets = (html: string) => [...html.matchAll(/class="wrap">(\d+)<\/td>/g)].map((m) => m[1]);
    assert.equal(targets(first.html).length, 50);
    assert.equal(targets(second.html).length, 10, 'the rest');
    assert.equal(new Set([...targets(first.html), ...targets(second.html)]).size, 60, 'without repeats');
    assert.match(second.html, />Newest</);
  });
});
