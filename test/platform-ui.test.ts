/**
 * /platform, the platform admins' web console, driven over HTTP like a browser without
 * JavaScript: who may reach each page, CSRF on every form, and what each form does
 * (tenants created, suspended, deleted, configured, domains, users, audit log), with
 * every change audited in the affected tenant as `platform:<admin user id>`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';

const ADMIN = { email: 'root@platform.test', password: 'platform-root-correct-horse' };
const MEMBER = { email: 'member@platform.test', password: 'platform-member-correct-horse' };

let t: TestAtrium;
let acme: TenantFixture;
let adminId: string;
/** The platform admin's signed-in browser and a CSRF token of its session. */
let admin: { browser: TestBrowser; csrf: string };

/** Every /platform route, with a tenant slug to act on. */
function routes(slug: string): { method: 'GET' | 'POST'; path: string }[] {
  return [
    { method: 'GET', path: '/platform' },
    { method: 'GET', path: '/platform/new' },
    { method: 'POST', path: '/platform/tenants' },
    { method: 'GET', path: `/platform/tenants/${slug}` },
    { method: 'POST', path: `/platform/tenants/${slug}/status` },
    { method: 'POST', path: `/platform/tenants/${slug}/domains` },
    { method: 'POST', path: `/platform/tenants/${slug}/domains/remove` },
    { method: 'POST', path: `/platform/tenants/${slug}/admin` },
    { method: 'GET', path: `/platform/tenants/${slug}/handoff?binding=${'b'.repeat(43)}` },
    { method: 'GET', path: `/platform/tenants/${slug}/delete` },
    { method: 'POST', path: `/platform/tenants/${slug}/delete` },
    { method: 'GET', path: `/platform/tenants/${slug}/config` },
    { method: 'POST', path: `/platform/tenants/${slug}/config/branding` },
    { method: 'GET', path: `/platform/tenants/${slug}/users` },
    { method: 'GET', path: `/platform/tenants/${slug}/audit` },
  ];
}

/** A form post that would change something if it were accepted. */
function harmfulForm(path: string, slug: string, csrf: string): Record<string, string> {
  return { csrf, slug: 'csrf-made', name: 'Made by CSRF', status: 'suspended', domain: 'csrf.example.test', confirm: slug, overrides: '{"company_name":"CSRF"}' };
}

async function page(path: string, browser = admin.browser): Promise<{ status: number; html: string; location: string | null }> {
  const res = await browser.request(`${t.baseUrl}${path}`);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

async function post(path: string, form: Record<string, string>, browser = admin.browser): Promise<{ status: number; html: string; location: string | null }> {
  const res = await browser.postForm(`${t.baseUrl}${path}`, form);
  return { status: res.status, html: await res.text(), location: res.headers.get('location') };
}

/** A form post with repeated fields (ticked checkboxes of one name). */
async function browserPost(path: string, form: Record<string, string>, repeated: [string, string][]): Promise<{ status: number; html: string }> {
  const body = new URLSearchParams(form);
  for (const [k, v] of repeated) body.append(k, v);
  const res = await admin.browser.request(`${t.baseUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: body.toString() });
  return { status: res.status, html: await res.text() };
}

async function auditOf(slug: string, action: string): Promise<any[]> {
  const res = await t.api('GET', `/tenants/${slug}/audit?action=${encodeURIComponent(action)}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

/** Visible text of a page's table rows, for assertions on lists. */
const rowCount = (html: string, table: string) => (new RegExp(`<table class="${table}">([\\s\\S]*?)</table>`).exec(html)?.[1]?.match(/<tr>/g)?.length ?? 1) - 1;

before(async () => {
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password });
  acme = await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
  const member = await t.api('POST', '/tenants/_platforms/users', { ...MEMBER, roles: ['member'], email_verified: true });
  assert.equal(member.status, 201, JSON.stringify(member.body));
  const users = await t.api('GET', '/tenants/_platforms/users?search=root%40');
  adminId = users.body.users[0].id;
  const signedIn = await signInToConsole(t.baseUrl, ADMIN, '/platform');
  assert.equal(signedIn.status, 200, signedIn.html.slice(0, 500));
  assert.equal(signedIn.url.pathname, '/platform');
  admin = { browser: signedIn.browser, csrf: hiddenInput(signedIn.html, 'csrf') };
});
after(() => t?.stop());

describe('/platform access', () => {
  it('sends an anonymous visitor to sign in (GET) and refuses a form (POST) with 401', async () => {
    const anonymous = new TestBrowser();
    for (const route of routes('acme')) {
      if (route.method === 'GET') {
        const res = await anonymous.request(`${t.baseUrl}${route.path}`);
        assert.equal(res.status, 302, `${route.path}`);
        assert.equal(res.headers.get('location'), `/account/login?${new URLSearchParams({ return_to: route.path }).toString()}`);
        await res.body?.cancel();
      } else {
        const res = await anonymous.postForm(`${t.baseUrl}${route.path}`, harmfulForm(route.path, 'acme', 'x'));
        assert.equal(res.status, 401, `${route.method} ${route.path}`);
        await res.body?.cancel();
      }
    }
  });

  it('signs a platform admin in and back to the page asked for', async () => {
    const { url, html } = await signInToConsole(t.baseUrl, ADMIN, '/platform/tenants/acme/users');
    assert.equal(url.pathname, '/platform/tenants/acme/users');
    assert.match(html, /user@acme\.test/);
  });

  it('answers 403 to a platform user who is not a platform admin', async () => {
    const { browser, html } = await signInToConsole(t.baseUrl, MEMBER, '/account');
    const csrf = hiddenInput(html, 'csrf');
    for (const route of routes('acme')) {
      const res = route.method === 'GET' ? await browser.request(`${t.baseUrl}${route.path}`) : await browser.postForm(`${t.baseUrl}${route.path}`, harmfulForm(route.path, 'acme', csrf));
      assert.equal(res.status, 403, `${route.method} ${route.path}`);
      assert.doesNotMatch(await res.text(), /user@acme\.test/);
    }
    assert.equal((await t.api('GET', '/tenants/acme')).body.status, 'active');
  });

  it('does not exist on a tenant host, even for that tenant\'s owner', async () => {
    const { browser, html } = await signInToConsole(acme.issuer, acme, '/account');
    const csrf = hiddenInput(html, 'csrf');
    for (const who of [new TestBrowser(), browser]) {
      for (const route of routes('acme')) {
        const res = route.method === 'GET' ? await who.request(`${acme.issuer}${route.path}`) : await who.postForm(`${acme.issuer}${route.path}`, harmfulForm(route.path, 'acme', csrf));
        assert.equal(res.status, 404, `${route.method} ${route.path} on the acme host`);
        await res.body?.cancel();
      }
    }
    assert.equal((await t.api('GET', '/tenants/acme')).body.status, 'active');
  });

  it('refuses every form without the session\'s CSRF token, and changes nothing', async () => {
    await t.api('POST', '/tenants', { slug: 'csrf-target', name: 'CSRF target' });
    const other = await signInToConsole(t.baseUrl, ADMIN, '/platform');
    const foreignCsrf = hiddenInput(other.html, 'csrf');
    for (const route of routes('csrf-target').filter((r) => r.method === 'POST')) {
      for (const csrf of ['', 'forged', foreignCsrf]) {
        const res = await post(route.path, harmfulForm(route.path, 'csrf-target', csrf));
        assert.equal(res.status, 403, `${route.path} with csrf "${csrf.slice(0, 10)}"`);
        assert.equal(res.location, null);
      }
    }
    const target = await t.api('GET', '/tenants/csrf-target');
    assert.equal(target.status, 200, 'not deleted');
    assert.equal(target.body.status, 'active', 'not suspended');
    assert.deepEqual((await t.api('GET', '/tenants/csrf-target/domains')).body.domains, []);
    assert.notEqual((await t.api('GET', '/tenants/csrf-target/config')).body.branding.company_name, 'CSRF');
    assert.equal((await t.api('GET', '/tenants/csrf-made')).status, 404, 'no tenant created');
  });

  it('answers 404 for a tenant that does not exist', async () => {
    assert.equal((await page('/platform/tenants/no-such-tenant')).status, 404);
    assert.equal((await page('/platform/tenants/..%2Facme')).status, 404);
    assert.equal((await post('/platform/tenants/no-such-tenant/status', { csrf: admin.csrf, status: 'suspended' })).status, 404);
    assert.equal((await post('/platform/tenants/acme/config/no-such-section', { csrf: admin.csrf, overrides: '{}' })).status, 404);
  });
});

describe('/platform tenants', () => {
  it('creates a tenant through the form and audits it in the new tenant', async () => {
    const form = await page('/platform/new');
    assert.equal(form.status, 200);
    assert.match(form.html, /<form method="post" action="\/platform\/tenants">/);
    const created = await post('/platform/tenants', { csrf: hiddenInput(form.html, 'csrf'), slug: 'initech', name: 'Initech' });
    assert.equal(created.status, 303, created.html.slice(0, 300));
    assert.equal(created.location, '/platform/tenants/initech');
    const api = await t.api('GET', '/tenants/initech');
    assert.equal(api.status, 200);
    assert.equal(api.body.name, 'Initech');
    const events = await auditOf('initech', 'tenant.created');
    assert.equal(events.length, 1);
    assert.equal(events[0].actor, `platform:${adminId}`);
    // The new tenant answers discovery on its own host.
    const discovery = await httpFetch(`${t.issuer('initech')}/.well-known/openid-configuration`);
    assert.equal(((await discovery.json()) as { issuer: string }).issuer, t.issuer('initech'));
  });

  it('shows why a tenant could not be created, keeping what was typed', async () => {
    const bad = await post('/platform/tenants', { csrf: admin.csrf, slug: 'Not A Slug!', name: 'Keep me' });
    assert.equal(bad.status, 400);
    assert.match(bad.html, /role="alert">slug must match/);
    assert.match(bad.html, /value="Keep me"/);
    const reserved = await post('/platform/tenants', { csrf: admin.csrf, slug: 'admin', name: 'Reserved' });
    assert.equal(reserved.status, 400);
    assert.match(reserved.html, /reserved/);
    const taken = await post('/platform/tenants', { csrf: admin.csrf, slug: 'acme', name: 'Acme again' });
    assert.equal(taken.status, 409);
    assert.match(taken.html, /already exists/);
    const noName = await post('/platform/tenants', { csrf: admin.csrf, slug: 'nameless', name: '  ' });
    assert.equal(noName.status, 400);
    assert.equal((await t.api('GET', '/tenants/nameless')).status, 404);
  });

  it('lists tenants with search and paging', async () => {
    for (let i = 0; i < 22; i++) {
      const res = await t.api('POST', '/tenants', { slug: `page-${String(i).padStart(2, '0')}`, name: `Paged ${i}` });
      assert.equal(res.status, 201);
    }
    const first = await page('/platform?q=page-');
    assert.equal(first.status, 200);
    assert.equal(rowCount(first.html, 'tenants'), 20);
    assert.match(first.html, /22 in all/);
    // Keyset paging: the next page starts after the last slug shown, the previous ends before the first.
    assert.match(first.html, /href="\/platform\?q=page-&amp;cursor=a%3Apage-19" rel="next"/);
    assert.doesNotMatch(first.html, /rel="prev"/);
    assert.match(first.html, />page-00</);
    assert.doesNotMatch(first.html, />page-21</);
    const second = await page('/platform?q=page-&cursor=a%3Apage-19');
    assert.equal(rowCount(second.html, 'tenants'), 2);
    assert.match(second.html, />page-21</);
    assert.doesNotMatch(second.html, /rel="next"/);
    const prev = /href="([^"]+)" rel="prev"/.exec(second.html)![1]!.replaceAll('&amp;', '&');
    assert.equal(prev, '/platform?q=page-&cursor=b%3Apage-20');
    const back = await page(prev);
    assert.equal(rowCount(back.html, 'tenants'), 20);
    assert.match(back.html, />page-00</);
    assert.match(back.html, />page-19</);
    assert.equal((await page('/platform?cursor=c%3A..%2Fetc')).status, 400);
    // By name too; the search is not a pattern.
    const byName = await page('/platform?q=Paged%2013');
    assert.equal(rowCount(byName.html, 'tenants'), 1);
    assert.match(byName.html, />page-13</);
    assert.match((await page('/platform?q=%25')).html, /No tenant matches/);
    const all = await page('/platform');
    assert.match(all.html, />acme</);
    assert.match(all.html, />_platforms</);
    assert.match(all.html, new RegExp(acme.issuer.replaceAll('.', '\\.')));
  });

  it("shows a tenant's status, issuer, domains, counts and recent audit events", async () => {
    const view = await page('/platform/tenants/acme');
    assert.equal(view.status, 200);
    assert.match(view.html, /<h1>acme Inc\. <span class="badge active">Active<\/span><\/h1>/);
    assert.match(view.html, new RegExp(`>${acme.issuer.replaceAll('.', '\\.')}</a>`));
    assert.match(view.html, /class="user-count">1</);
    assert.match(view.html, /class="client-count">3</);
    assert.match(view.html, /No custom domain/);
    assert.match(view.html, /<code>user\.created<\/code>/, 'the tenant\'s recent events');
    assert.doesNotMatch(view.html, /initech/, 'no other tenant\'s events');
  });

  it('suspends and reactivates a tenant, audited in the tenant', async () => {
    const suspended = await post('/platform/tenants/globex/status', { csrf: admin.csrf, status: 'suspended' });
    assert.equal(suspended.status, 303);
    assert.equal(suspended.location, '/platform/tenants/globex');
    assert.equal((await t.api('GET', '/tenants/globex')).body.status, 'suspended');
    const refused = await httpFetch(`${t.issuer('globex')}/.well-known/openid-configuration`);
    assert.ok(refused.status >= 400, 'a suspended tenant serves nothing');
    const view = await page('/platform/tenants/globex');
    assert.match(view.html, /badge suspended/);
    assert.match(view.html, /name="status" value="active"/);
    const reactivated = await post('/platform/tenants/globex/status', { csrf: admin.csrf, status: 'active' });
    assert.equal(reactivated.status, 303);
    assert.equal((await t.api('GET', '/tenants/globex')).body.status, 'active');
    assert.equal((await auditOf('globex', 'tenant.suspended'))[0].actor, `platform:${adminId}`);
    assert.equal((await auditOf('globex', 'tenant.reactivated'))[0].actor, `platform:${adminId}`);
    const bad = await post('/platform/tenants/globex/status', { csrf: admin.csrf, status: 'deleted' });
    assert.equal(bad.status, 400);
    const reserved = await post('/platform/tenants/_platforms/status', { csrf: admin.csrf, status: 'suspended' });
    assert.equal(reserved.status, 400);
    assert.match(reserved.html, /reserved tenants cannot be suspended/);
  });

  it('deletes a tenant only when its slug is typed, audited by the platform', async () => {
    await t.api('POST', '/tenants', { slug: 'doomed', name: 'Doomed' });
    const confirm = await page('/platform/tenants/doomed/delete');
    assert.equal(confirm.status, 200);
    assert.match(confirm.html, /Type the slug doomed to confirm/);
    for (const typed of ['', 'Doomed', 'doomed ', 'acme']) {
      const refused = await post('/platform/tenants/doomed/delete', { csrf: admin.csrf, confirm: typed });
      assert.equal(refused.status, 400, `typed "${typed}"`);
      assert.match(refused.html, /type the slug &#34;doomed&#34; to confirm/);
    }
    assert.equal((await t.api('GET', '/tenants/doomed')).status, 200, 'still there');
    const deleted = await post('/platform/tenants/doomed/delete', { csrf: admin.csrf, confirm: 'doomed' });
    assert.equal(deleted.status, 303);
    assert.equal(deleted.location, '/platform?deleted=doomed');
    assert.equal((await t.api('GET', '/tenants/doomed')).status, 404);
    assert.match((await page('/platform?deleted=doomed')).html, /The tenant doomed was deleted/);
    assert.doesNotMatch((await page('/platform?deleted=Call%20us%20now')).html, /Call us now/, 'only a slug is echoed');
    const events = await auditOf('_platforms', 'tenant.deleted');
    assert.equal(events[0].target, 'doomed');
    assert.equal(events[0].actor, `platform:${adminId}`);
    const reserved = await post('/platform/tenants/default/delete', { csrf: admin.csrf, confirm: 'default' });
    assert.equal(reserved.status, 400);
    assert.equal((await t.api('GET', '/tenants/default')).status, 200);
  });

  it('adds and removes custom domains, audited in the tenant', async () => {
    const added = await post('/platform/tenants/acme/domains', { csrf: admin.csrf, domain: 'Login.Acme-Corp.test' });
    assert.equal(added.status, 303);
    // Pending, with its challenge shown, until verified.
    const pending = await page('/platform/tenants/acme');
    assert.match(pending.html, /login\.acme-corp\.test<\/span> <span class="badge">pending verification/);
    const { challenge } = (await t.api('GET', '/tenants/acme/domains')).body.domains[0];
    assert.ok(pending.html.includes(challenge.dns.name) && pending.html.includes(challenge.dns.value), 'the page shows the challenge');
    assert.equal((await post('/platform/tenants/acme/domains/verify', { csrf: admin.csrf, domain: 'login.acme-corp.test' })).status, 409);
    t.dns.setTxt(challenge.dns.name, challenge.dns.value);
    assert.equal((await post('/platform/tenants/acme/domains/verify', { csrf: admin.csrf, domain: 'login.acme-corp.test' })).status, 303);
    const view = await page('/platform/tenants/acme');
    assert.match(view.html, /login\.acme-corp\.test<\/span> <span class="badge">primary/);
    assert.deepEqual((await t.api('GET', '/tenants/acme/domains')).body.domains.map((d: { domain: string }) => d.domain), ['login.acme-corp.test']);
    assert.equal((await auditOf('acme', 'tenant.domain_verified'))[0].actor, `platform:${adminId}`);
    const invalid = await post('/platform/tenants/acme/domains', { csrf: admin.csrf, domain: 'not a domain' });
    assert.equal(invalid.status, 400);
    assert.match(invalid.html, /value="not a domain"/);
    // Another tenant may claim it pending, never prove it while acme holds it.
    assert.equal((await post('/platform/tenants/globex/domains', { csrf: admin.csrf, domain: 'login.acme-corp.test' })).status, 303);
    const taken = await post('/platform/tenants/globex/domains/verify', { csrf: admin.csrf, domain: 'login.acme-corp.test' });
    assert.equal(taken.status, 409);
    assert.equal((await post('/platform/tenants/globex/domains/remove', { csrf: admin.csrf, domain: 'login.acme-corp.test' })).status, 303);
    const removed = await post('/platform/tenants/acme/domains/remove', { csrf: admin.csrf, domain: 'login.acme-corp.test' });
    assert.equal(removed.status, 303);
    assert.deepEqual((await t.api('GET', '/tenants/acme/domains')).body.domains, []);
    assert.equal((await auditOf('acme', 'tenant.domain_added'))[0].actor, `platform:${adminId}`);
    assert.equal((await auditOf('acme', 'tenant.domain_removed'))[0].target, 'login.acme-corp.test');
    const missing = await post('/platform/tenants/acme/domains/remove', { csrf: admin.csrf, domain: 'login.acme-corp.test' });
    assert.equal(missing.status, 404);
  });

  it("opens a tenant's administration through a one-time hand-off link", async () => {
    const res = await post('/platform/tenants/acme/admin', { csrf: admin.csrf });
    assert.equal(res.status, 303);
    assert.equal(res.location, `${acme.issuer}/account/handoff/start`, 'the tenant host binds the hand-off to this browser first');
    const link = (await admin.browser.follow(res.location, (u) => u.pathname === '/account/handoff')).url;
    assert.equal(link.origin + link.pathname, `${acme.issuer}/account/handoff`);
    const entered = await admin.browser.request(link);
    assert.equal(entered.status, 302);
    assert.equal(entered.headers.get('location'), '/admin');
    assert.equal((await admin.browser.request(link)).status, 400, 'the link works once');
    const events = await auditOf('acme', 'console.platform_admin_entered');
    assert.equal(events[0].actor, `platform:${adminId}`);
    // On the platform's own host there is nothing to hand off: the admin goes straight to /admin.
    const own = await post('/platform/tenants/_platforms/admin', { csrf: admin.csrf });
    assert.equal(own.status, 303);
    assert.equal(own.location, '/admin');
    assert.equal((await page('/platform')).status, 200, 'still signed in as themselves');
  });
});

describe('/platform configuration editor', () => {
  it('saves a section through the same validation as the API, audited in the tenant', async () => {
    const view = await page('/platform/tenants/acme/config');
    assert.equal(view.status, 200);
    for (const section of ['application', 'branding', 'security', 'features', 'oidc', 'integrations', 'notifications']) {
      assert.match(view.html, new RegExp(`action="/platform/tenants/acme/config/${section}"`));
    }
    const saved = await post('/platform/tenants/acme/config/branding', { csrf: admin.csrf, overrides: '{"company_name": "Acme Rockets", "colors": {"light": {"primary": "#d9480f"}}}' });
    assert.equal(saved.status, 303);
    assert.equal(saved.location, '/platform/tenants/acme/config?saved=branding#branding');
    const config = (await t.api('GET', '/tenants/acme/config')).body;
    assert.equal(config.branding.company_name, 'Acme Rockets');
    assert.equal(config.branding.colors.light.primary, '#d9480f');
    const after = await page('/platform/tenants/acme/config?saved=branding');
    assert.match(after.html, /The branding section was saved/);
    assert.match(after.html, /&#34;company_name&#34;: &#34;Acme Rockets&#34;/);
    const events = await auditOf('acme', 'tenant.config_changed');
    assert.equal(events[0].actor, `platform:${adminId}`);
    assert.deepEqual(events[0].details.section, 'branding');
    assert.match(await (await httpFetch(`${acme.issuer}/branding.css`)).text(), /--primary: #d9480f/);
  });

  it('shows validation errors next to the section and keeps the text', async () => {
    const notJson = await post('/platform/tenants/acme/config/oidc', { csrf: admin.csrf, overrides: '{"access_token_ttl": ' });
    assert.equal(notJson.status, 400);
    assert.match(notJson.html, /role="alert">oidc: not valid JSON/);
    assert.match(notJson.html, /&#34;access_token_ttl&#34;: <\/textarea>/);
    const unknown = await post('/platform/tenants/acme/config/oidc', { csrf: admin.csrf, overrides: '{"acces_token_ttl": 60}' });
    assert.equal(unknown.status, 400);
    assert.match(unknown.html, /oidc\.acces_token_ttl: unknown field/);
    const ceiling = await post('/platform/tenants/acme/config/oidc', { csrf: admin.csrf, overrides: '{"access_token_ttl": 999999999}' });
    assert.equal(ceiling.status, 400);
    assert.match(ceiling.html, /oidc\.access_token_ttl/);
    const array = await post('/platform/tenants/acme/config/oidc', { csrf: admin.csrf, overrides: '[1]' });
    assert.equal(array.status, 400);
    assert.equal((await t.api('GET', '/tenants/acme/config')).body.oidc.access_token_ttl, 3600, 'nothing stored');
    // Blank removes the section's overrides.
    await post('/platform/tenants/acme/config/application', { csrf: admin.csrf, overrides: '{"title": "Temporary"}' });
    assert.equal((await post('/platform/tenants/acme/config/application', { csrf: admin.csrf, overrides: '' })).status, 303);
    assert.notEqual((await t.api('GET', '/tenants/acme/config')).body.application.title, 'Temporary');
    assert.equal((await t.atrium.services.tenantStore.findBySlug('acme'))!.config.application, undefined, 'no overrides left');
  });

  it('saves a section from its generated form, refuses bad fields by name and keeps a secret left blank', async () => {
    const view = await page('/platform/tenants/acme/config');
    assert.match(view.html, /name="cfg\.access_token_ttl" type="number"/);
    assert.match(view.html, /type="checkbox" name="cfg\.enabled_grants" value="refresh_token"/);
    const form = { csrf: admin.csrf, format: 'form', 'cfg.access_token_ttl': '900', 'cfg.id_token_ttl': '' };
    const saved = await browserPost('/platform/tenants/acme/config/oidc', form, [['cfg.enabled_grants', 'authorization_code'], ['cfg.enabled_grants', 'refresh_token']]);
    assert.equal(saved.status, 303);
    const oidc = (await t.atrium.services.tenantStore.findBySlug('acme'))!.config.oidc;
    assert.deepEqual(oidc, { access_token_ttl: 900, enabled_grants: ['authorization_code', 'refresh_token'] }, 'blank fields are no override');
    const notNumber = await post('/platform/tenants/acme/config/oidc', { ...form, 'cfg.access_token_ttl': 'soon' });
    assert.equal(notNumber.status, 400);
    assert.match(notNumber.html, /role="alert">[^<]*oidc\.access_token_ttl/);
    assert.match(notNumber.html, /name="cfg\.access_token_ttl" type="number" value="soon"/, 'the form keeps what was typed');
    const badFormat = await post('/platform/tenants/acme/config/oidc', { ...form, format: 'yaml' });
    assert.equal(badFormat.status, 400);
    assert.match(badFormat.html, /format: must be form or json/);
    assert.equal(((await t.atrium.services.tenantStore.findBySlug('acme'))!.config.oidc as { access_token_ttl: number }).access_token_ttl, 900, 'nothing stored');
    // A secret field left blank keeps the stored secret; the form never shows it.
    const secret = 'smtp-form-secret-5678';
    assert.equal((await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, overrides: JSON.stringify({ smtp: { host: 'a.acme.test', password: secret } }) })).status, 303);
    assert.equal((await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, format: 'form', 'cfg.smtp.host': 'b.acme.test', 'cfg.smtp.password': '' })).status, 303);
    const { openTenantSecret } = await import('../src/tenancy/tenant-config.ts');
    const stored = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
    assert.equal((stored.config.integrations as { smtp: { host: string } }).smtp.host, 'b.acme.test');
    assert.equal(openTenantSecret(t.atrium.services.box, stored, 'integrations.smtp.password'), secret);
    assert.ok(!(await page('/platform/tenants/acme/config')).html.includes(secret));
    await post('/platform/tenants/acme/config/oidc', { csrf: admin.csrf, overrides: '' });
    await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, overrides: '' });
  });

  it('never shows a secret, and keeps it when the mask is sent back', async () => {
    const secret = 'smtp-password-do-not-show-1234';
    const set = await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, overrides: JSON.stringify({ smtp: { host: 'smtp.acme.test', password: secret } }) });
    assert.equal(set.status, 303);
    const services = t.atrium.services;
    const stored = (await services.tenantStore.findBySlug('acme'))!;
    const sealed = (stored.config.integrations as { smtp: { password: string } }).smtp.password;
    assert.notEqual(sealed, secret);
    const view = await page('/platform/tenants/acme/config');
    assert.match(view.html, /&#34;password&#34;: &#34;\*\*\*\*\*\*\*\*&#34;/);
    // Sent back as shown (with the mask), the secret is kept.
    const textarea = /<textarea id="overrides-integrations"[^>]*>([\s\S]*?)<\/textarea>/.exec(view.html)![1]!.replaceAll('&#34;', '"');
    assert.equal((await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, overrides: textarea.replace('smtp.acme.test', 'mail.acme.test') })).status, 303);
    const { openTenantSecret } = await import('../src/tenancy/tenant-config.ts');
    assert.equal(openTenantSecret(services.box, (await services.tenantStore.findBySlug('acme'))!, 'integrations.smtp.password'), secret);
    // A refused form does not echo a secret typed in clear.
    const refused = await post('/platform/tenants/acme/config/integrations', { csrf: admin.csrf, overrides: JSON.stringify({ smtp: { password: 'typed-in-clear-secret', port: 'x' } }) });
    assert.equal(refused.status, 400);
    assert.doesNotMatch(refused.html, /typed-in-clear-secret/);
    // No page of the console shows the secret or its sealed form.
    for (const path of ['/platform', '/platform/tenants/acme', '/platform/tenants/acme/config', '/platform/tenants/acme/users', '/platform/tenants/acme/audit', '/platform/tenants/acme/delete']) {
      const { status, html } = await page(path);
      assert.equal(status, 200, path);
      assert.ok(!html.includes(secret), `${path} shows the secret`);
      assert.ok(!html.includes(sealed.slice(0, 40)), `${path} shows the sealed secret`);
      assert.doesNotMatch(html, /<script(?![^>]*\ssrc=)/, `${path} has no inline script`);
      assert.doesNotMatch(html, /\sstyle="/, `${path} has no inline style`);
    }
  });
});

describe('/platform users and audit log', () => {
  it("lists a tenant's users with search and paging, and no one else's", async () => {
    for (let i = 0; i < 26; i++) {
      const res = await t.api('POST', '/tenants/initech/users', { email: `person${String(i).padStart(2, '0')}@initech.test`, name: `Person ${i}` });
      assert.equal(res.status, 201);
    }
    const first = await page('/platform/tenants/initech/users');
    assert.equal(first.status, 200);
    assert.equal(rowCount(first.html, 'users'), 25);
    assert.match(first.html, /26 in all/);
    assert.doesNotMatch(first.html, /acme\.test/);
    const nextLink = /href="([^"]+)" rel="next"/.exec(first.html)![1]!.replaceAll('&amp;', '&');
    const second = await page(nextLink);
    assert.equal(rowCount(second.html, 'users'), 1);
    const prevLink = /href="([^"]+)" rel="prev"/.exec(second.html)![1]!.replaceAll('&amp;', '&');
    assert.equal(rowCount((await page(prevLink)).html, 'users'), 25);
    // initech's cursor at acme's list: refused, nothing of initech shown.
    const foreign = await page(`/platform/tenants/acme/users?cursor=${new URL(nextLink, 'http://x').searchParams.get('cursor')!}`);
    assert.equal(foreign.status, 400);
    assert.doesNotMatch(foreign.html, /initech\.test/);
    const found = await page('/platform/tenants/initech/users?q=person07');
    assert.equal(rowCount(found.html, 'users'), 1);
    assert.match(found.html, /person07@initech\.test/);
    assert.match(found.html, />member<\/td>/);
    const acmeUsers = await page('/platform/tenants/acme/users');
    assert.match(acmeUsers.html, /user@acme\.test/);
    assert.doesNotMatch(acmeUsers.html, /initech/);
  });

  it("pages a tenant's audit log and filters it by action", async () => {
    const log = await page('/platform/tenants/initech/audit');
    assert.equal(log.status, 200);
    assert.equal(rowCount(log.html, 'events'), 27, 'tenant.created and 26 user.created events');
    const filtered = await page('/platform/tenants/initech/audit?action=tenant.created');
    assert.equal(rowCount(filtered.html, 'events'), 1);
    assert.match(filtered.html, new RegExp(`platform:${adminId}`));
    await Promise.all(Array.from({ length: 30 }, (_, i) => t.api('POST', '/tenants/initech/users', { email: `more${i}@initech.test` })));
    const newest = await page('/platform/tenants/initech/audit');
    assert.equal(rowCount(newest.html, 'events'), 50);
    const next = /href="([^"]+)" rel="next"/.exec(newest.html)![1]!.replaceAll('&amp;', '&');
    const older = await page(next);
    assert.equal(rowCount(older.html, 'events'), 7);
    assert.doesNotMatch(older.html, /rel="next"/);
    assert.equal((await page('/platform/tenants/initech/audit?cursor=bogus')).status, 400);
  });

  it('renders in French for a French browser', async () => {
    const res = await admin.browser.request(`${t.baseUrl}/platform`, { headers: { 'accept-language': 'fr' } });
    const html = await res.text();
    assert.match(html, /<html lang="fr">/);
    assert.match(html, /Créer une organisation/);
  });
});
