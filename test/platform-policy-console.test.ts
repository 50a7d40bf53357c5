/**
 * /platform/policy, the operator's policy edited in the platform console (issue 13, item 4),
 * over HTTP like a browser without JavaScript: the form is generated from the policy's field
 * declaration, "Preview" lists exactly the tenants whose values in force a change moves (with
 * their own value, the value now and after) and stores nothing, "Confirm" saves it
 * (post/redirect/get with the sealed flash) and audits it on the platform; a stale preview is
 * refused; CSRF is checked; a tenant admin cannot reach any of it. The API's dry run
 * (POST /api/v1/platform/config/:section/preview) answers the same list.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { assertApiError } from './support/api-assertions.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';
import { PLATFORM_FIELDS, PLATFORM_SECTIONS } from '../src/config/platform-policy.ts';

const ADMIN = { email: 'root@platform.test', password: 'platform-root-correct-horse' };
const MEMBER = { email: 'member@platform.test', password: 'platform-member-correct-horse' };

let t: TestAtrium;
let acme: TenantFixture;
let adminId: string;
let admin: { browser: TestBrowser; csrf: string };

/** Below the floor about to be raised (key_rotation_days 10 < 30), above the ceiling about to be lowered (access_token_ttl 7200 > 5400), within both. */
const OWN = { acme: { key_rotation_days: 10 }, globex: { access_token_ttl: 7200 }, initech: { key_rotation_days: 45, access_token_ttl: 1800 } };
const CHANGE = { 'cfg.key_rotation_days.floor': '30', 'cfg.access_token_ttl.ceiling': '5400' };

const unescape = (s: string) => s.replace(/&#34;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

async function page(path: string, browser = admin.browser) {
  const res = await browser.request(`${t.baseUrl}${path}`);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function post(path: string, form: Record<string, string>, browser = admin.browser) {
  const res = await browser.postForm(`${t.baseUrl}${path}`, form);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

/** The preview table's rows: tenant, setting, own value, now, after. */
function affectedRows(html: string): { tenant: string; field: string; own: string; from: string; to: string }[] {
  const rows = [...html.matchAll(/<tr data-tenant="([^"]+)" data-field="([^"]+)">([\s\S]*?)<\/tr>/g)];
  return rows.map(([, tenant, field, cells]) => ({
    tenant: tenant!,
    field: field!,
    own: /<td[^>]*data-own>([^<]*)<\/td>/.exec(cells!)![1]!,
    from: /<td[^>]*data-from>([^<]*)<\/td>/.exec(cells!)![1]!,
    to: /<td[^>]*data-to><strong>([^<]*)<\/strong><\/td>/.exec(cells!)![1]!,
  }));
}

const sorted = <T extends { tenant?: string; slug?: string }>(rows: T[]) => [...rows].sort((a, b) => String(a.tenant ?? a.slug).localeCompare(String(b.tenant ?? b.slug)));

before(async () => {
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password });
  acme = await createTenantFixture(t, 'acme');
  for (const slug of ['globex', 'initech']) await createTenantFixture(t, slug);
  for (const [slug, oidc] of Object.entries(OWN)) assert.equal((await t.api('PUT', `/tenants/${slug}/config/oidc`, oidc)).status, 200);
  assert.equal((await t.api('POST', '/tenants/_platforms/users', { ...MEMBER, roles: ['member'], email_verified: true })).status, 201);
  adminId = (await t.api('GET', '/tenants/_platforms/users?search=root%40')).body.users[0].id;
  const signedIn = await signInToConsole(t.baseUrl, ADMIN, '/platform/policy');
  assert.equal(signedIn.status, 200, signedIn.html.slice(0, 500));
  admin = { browser: signedIn.browser, csrf: hiddenInput(signedIn.html, 'csrf') };
});
after(() => t?.stop());

describe('/platform/policy', () => {
  it('renders a form per section with a control for every bound the policy declares', async () => {
    const view = await page('/platform/policy');
    assert.equal(view.status, 200);
    assert.match(view.html, /<h1>Platform policy<\/h1>/);
    for (const section of PLATFORM_SECTIONS) {
      assert.match(view.html, new RegExp(`action="/platform/policy/${section}/preview"`));
      for (const [field, spec] of Object.entries(PLATFORM_FIELDS[section])) {
        for (const bound of spec.kinds) assert.match(view.html, new RegExp(`name="cfg\\.${field.replace(/\./g, '\\.')}\\.${bound}"`), `${section}.${field}.${bound}`);
      }
    }
    // The MFA floor is a choice of levels, the built-in value shown as what blank means.
    assert.match(view.html, /<select id="policy-security-cfg-mfa-required-floor" name="cfg\.mfa\.required\.floor">\s*<option value="">Built-in \(off\)<\/option>/);
    assert.match(view.html, /<option value="admins">admins<\/option>/);
    assert.match(view.html, /name="cfg\.key_rotation_days\.floor" type="number" value="" placeholder="1"/);
  });

  it('previews exactly the tenants a change moves, with their own value, the value now and after, storing nothing', async () => {
    const preview = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, ...CHANGE });
    assert.equal(preview.status, 200, preview.html.slice(0, 400));
    assert.match(preview.html, /data-affected="2"/);
    assert.deepEqual(sorted(affectedRows(preview.html)), [
      { tenant: 'acme', field: 'oidc.key_rotation_days', own: '10', from: '10', to: '30' },
      { tenant: 'globex', field: 'oidc.access_token_ttl', own: '7200', from: '7200', to: '5400' },
    ]);
    assert.deepEqual(JSON.parse(unescape(hiddenInput(preview.html, 'settings'))), { key_rotation_days: { floor: 30 }, access_token_ttl: { ceiling: 5400 } });
    assert.equal(hiddenInput(preview.html, 'version'), '0');
    const stored = await t.api('GET', '/platform/config/oidc');
    assert.equal(stored.body.version, 0, 'a preview stores nothing');
    assert.equal((await t.api('GET', '/tenants/acme/config')).body.oidc.key_rotation_days, 10);
  });

  it('a change that moves no tenant says so', async () => {
    const preview = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, 'cfg.key_rotation_days.floor': '5' });
    assert.equal(preview.status, 200);
    assert.match(preview.html, /data-affected="0"/);
    assert.deepEqual(affectedRows(preview.html), []);
  });

  it('refuses a bad value by field name and keeps what was typed', async () => {
    const refused = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, 'cfg.key_rotation_days.floor': 'thirty', 'cfg.access_token_ttl.ceiling': '5400' });
    assert.equal(refused.status, 400);
    assert.match(refused.html, /role="alert">oidc\.key_rotation_days\.floor: must be a whole number/);
    assert.match(refused.html, /name="cfg\.key_rotation_days\.floor" type="number" value="thirty"/);
    assert.match(refused.html, /name="cfg\.access_token_ttl\.ceiling" type="number" value="5400"/);
    const order = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, 'cfg.key_rotation_days.floor': '200', 'cfg.key_rotation_days.ceiling': '100' });
    assert.equal(order.status, 400);
    assert.match(order.html, /key_rotation_days\.floor: 200 is above the ceiling 100/);
  });

  it('confirm saves, applies to the tenants at once, shows the notice once and audits the change on the platform', async () => {
    const preview = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, ...CHANGE });
    const confirm = await post('/platform/policy/oidc', { csrf: admin.csrf, settings: unescape(hiddenInput(preview.html, 'settings')), version: hiddenInput(preview.html, 'version') });
    assert.equal(confirm.status, 303, confirm.html.slice(0, 300));
    assert.equal(confirm.location, '/platform/policy');
    const shown = await page('/platform/policy');
    assert.match(shown.html, /data-flash>The platform policy was saved/);
    assert.match(shown.html, /name="cfg\.key_rotation_days\.floor" type="number" value="30"/, 'the form shows the stored value');
    assert.doesNotMatch((await page('/platform/policy')).html, /data-flash/, 'the notice is shown once');

    const stored = (await t.api('GET', '/platform/config/oidc')).body;
    assert.equal(stored.version, 1);
    assert.deepEqual(stored.settings.key_rotation_days.floor, 30);
    assert.deepEqual(stored.settings.access_token_ttl.ceiling, 5400);
    assert.equal((await t.api('GET', '/tenants/acme/config')).body.oidc.key_rotation_days, 30, 'raised to the floor');
    assert.equal((await t.api('GET', '/tenants/globex/config')).body.oidc.access_token_ttl, 5400, 'lowered to the ceiling');
    assert.equal((await t.api('GET', '/tenants/initech/config')).body.oidc.access_token_ttl, 1800, 'untouched');

    const events = (await t.api('GET', '/tenants/_platforms/audit?action=platform.config_changed')).body.events as any[];
    assert.equal(events.length, 1);
    assert.equal(events[0].actor, `platform:${adminId}`);
    assert.equal(events[0].target, 'oidc');
    assert.deepEqual([...events[0].details.affected_tenants].sort(), ['acme', 'globex']);
    assert.deepEqual(events[0].details.settings, { key_rotation_days: { floor: 30 }, access_token_ttl: { ceiling: 5400 } });
    assert.equal((await t.api('PUT', '/platform/config/oidc', {})).status, 200, 'back to the built-in policy for the next tests');
  });

  it('refuses a confirmation made under an older version and shows the tenants as they are now', async () => {
    const preview = await post('/platform/policy/oidc/preview', { csrf: admin.csrf, 'cfg.key_rotation_days.floor': '50' });
    assert.deepEqual(sorted(affectedRows(preview.html)).map((r) => r.tenant), ['acme', 'initech']);
    assert.equal((await t.api('PUT', '/platform/config/oidc', { key_rotation_days: { floor: 20 } })).status, 200, 'another admin saves meanwhile');
    const stale = await post('/platform/policy/oidc', { csrf: admin.csrf, settings: unescape(hiddenInput(preview.html, 'settings')), version: hiddenInput(preview.html, 'version') });
    assert.equal(stale.status, 409);
    assert.match(stale.html, /changed by someone else since this preview/);
    assert.deepEqual(sorted(affectedRows(stale.html)).map((r) => [r.tenant, r.from, r.to]), [['acme', '20', '50'], ['initech', '45', '50']]);
    assert.deepEqual((await t.api('GET', '/platform/config/oidc')).body.settings.key_rotation_days.floor, 20, 'not saved');
    assert.equal((await t.api('PUT', '/platform/config/oidc', {})).status, 200);
  });

  it('refuses a preview or a confirmation without the session\'s CSRF token', async () => {
    for (const csrf of ['', 'forged']) {
      assert.equal((await post('/platform/policy/oidc/preview', { csrf, ...CHANGE })).status, 403);
      assert.equal((await post('/platform/policy/oidc', { csrf, settings: '{"key_rotation_days":{"floor":300}}', version: String((await t.api('GET', '/platform/config/oidc')).body.version) })).status, 403);
    }
    assert.equal((await t.api('GET', '/platform/config/oidc')).body.settings.key_rotation_days.floor, 1, 'nothing saved');
  });

  it('answers 404 for a section that does not exist', async () => {
    assert.equal((await post('/platform/policy/branding/preview', { csrf: admin.csrf })).status, 404);
    assert.equal((await post('/platform/policy/branding', { csrf: admin.csrf, settings: '{}', version: '0' })).status, 404);
  });

  it('is out of reach of a tenant admin, a platform member and an anonymous visitor', async () => {
    const version = String((await t.api('GET', '/platform/config/security')).body.version);
    const harmful = (csrf: string) => ({ csrf, settings: '{"mfa":{"required":{"floor":"all"}}}', version, 'cfg.mfa.required.floor': 'all' });
    const routes = [
      { method: 'GET', path: '/platform/policy' },
      { method: 'POST', path: '/platform/policy/security/preview' },
      { method: 'POST', path: '/platform/policy/security' },
    ] as const;
    // The tenant's owner, signed in on its own host: /platform does not exist there.
    const owner = await signInToConsole(acme.issuer, acme, '/admin');
    const ownerCsrf = hiddenInput(owner.html, 'csrf');
    for (const r of routes) {
      const res = r.method === 'GET' ? await owner.browser.request(`${acme.issuer}${r.path}`) : await owner.browser.postForm(`${acme.issuer}${r.path}`, harmful(ownerCsrf));
      assert.equal(res.status, 404, `${r.method} ${r.path} on the tenant host`);
      await res.body?.cancel();
    }
    // A platform user who is not a platform admin: 403.
    const member = await signInToConsole(t.baseUrl, MEMBER, '/account');
    const memberCsrf = hiddenInput(member.html, 'csrf');
    for (const r of routes) {
      const res = r.method === 'GET' ? await member.browser.request(`${t.baseUrl}${r.path}`) : await member.browser.postForm(`${t.baseUrl}${r.path}`, harmful(memberCsrf));
      assert.equal(res.status, 403, `${r.method} ${r.path} as a platform member`);
      await res.body?.cancel();
    }
    // Anonymous: sent to sign in (GET), 401 (POST).
    const anonymous = new TestBrowser();
    for (const r of routes) {
      const res = r.method === 'GET' ? await anonymous.request(`${t.baseUrl}${r.path}`) : await anonymous.postForm(`${t.baseUrl}${r.path}`, harmful('x'));
      assert.equal(res.status, r.method === 'GET' ? 302 : 401, `${r.method} ${r.path} anonymous`);
      await res.body?.cancel();
    }
    assert.equal((await t.api('GET', '/platform/config/security')).body.settings.mfa.required.floor, 'off', 'nothing saved');
  });
});

describe('POST /api/v1/platform/config/:section/preview', () => {
  it('lists exactly the affected tenants with their values, and stores nothing', async () => {
    const before = (await t.api('GET', '/platform/config/oidc')).body.version;
    const res = await t.api('POST', '/platform/config/oidc/preview', { key_rotation_days: { floor: 30 }, access_token_ttl: { ceiling: 5400 } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.version, before);
    assert.deepEqual(sorted(res.body.affected_tenants), [
      { slug: 'acme', name: 'acme Inc.', changes: [{ field: 'oidc.key_rotation_days', own: 10, from: 10, to: 30 }] },
      { slug: 'globex', name: 'globex Inc.', changes: [{ field: 'oidc.access_token_ttl', own: 7200, from: 7200, to: 5400 }] },
    ]);
    assert.equal((await t.api('GET', '/platform/config/oidc')).body.version, before, 'nothing stored');
    assert.equal((await t.api('GET', '/tenants/acme/config')).body.oidc.key_rotation_days, 10);
  });

  it('a tenant on the default is listed when the platform default changes, with no own value', async () => {
    const res = await t.api('POST', '/platform/config/security/preview', { mfa: { required: { floor: 'admins' } } });
    assert.equal(res.status, 200);
    const acmeRow = res.body.affected_tenants.find((a: any) => a.slug === 'acme');
    assert.deepEqual(acmeRow.changes, [{ field: 'security.mfa.required', from: 'off', to: 'admins' }], 'own is absent: the tenant has no value of its own');
  });

  it('refuses bad input as PUT does, and needs atrium:platform:write', async () => {
    assertApiError(await t.api('POST', '/platform/config/oidc/preview', { key_rotation_days: { floor: -1 } }), 400, 'invalid_platform_config', /key_rotation_days\.floor: must be between 1 and 365/);
    assertApiError(await t.api('POST', '/platform/config/oidc/preview', { session_ttl: { ceiling: 10 } }), 400, 'invalid_platform_config', /oidc\.session_ttl: unknown field/);
    assertApiError(await t.api('POST', '/platform/config/nope/preview', {}), 400, 'invalid_platform_config', /no platform configuration section "nope"/);
    const readOnly = await t.platformToken('atrium:platform:read');
    const res = await httpFetch(`${t.baseUrl}/api/v1/platform/config/oidc/preview`, { method: 'POST', headers: { authorization: `Bearer ${readOnly}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 403);
  });
});
