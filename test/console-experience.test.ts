/**
 * The consoles' rough edges of issue 17 over HTTP: post/redirect/get with a one-time flash
 * (the secret shows on the GET after the 303, once; a reload creates no second client),
 * /favicon.ico on every host, "Add a user" with Member preselected as a radio, audit actors
 * by name and email, and an application's issuer, discovery URL and snippets.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { hiddenInput, httpFetch, type TestBrowser } from './support/http-client.ts';
import { signInToConsole } from './support/console.ts';

let t: TestAtrium;
let acme: TenantFixture;
let browser: TestBrowser;
let csrf: string;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  const signed = await signInToConsole(acme.issuer, acme, '/account');
  browser = signed.browser;
  csrf = hiddenInput(signed.html, 'csrf');
});
after(() => t?.stop());

async function get(path: string) {
  const res = await browser.request(`${acme.issuer}${path}`);
  return { status: res.status, html: await res.text() };
}
async function post(path: string, form: Record<string, string>) {
  const res = await browser.request(`${acme.issuer}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ ...form, csrf }).toString() });
  await res.body?.cancel();
  return { status: res.status, location: res.headers.get('location') };
}
const clientCount = async () => (await t.api('GET', '/tenants/acme/clients?limit=100')).body.clients.length as number;

describe('console experience', () => {
  it('creates an application with a 303, shows its secret once on the GET, and a reload creates nothing', async () => {
    const before = await clientCount();
    const created = await post('/admin/clients', { client_name: 'PRG app', kind: 'web', redirect_uris: 'https://prg.example/cb' });
    assert.equal(created.status, 303);
    assert.match(created.location!, /^\/admin\/clients\/[^?]+$/, 'no secret and no notice in the URL');
    const first = await get(created.location!);
    assert.equal(first.status, 200);
    const secret = /id="client-secret">([^<]+)</.exec(first.html)?.[1];
    assert.ok(secret, 'the secret is on the page after the redirect');
    assert.match(first.html, /data-flash>Application created\./);
    const reload = await get(created.location!);
    assert.ok(!reload.html.includes(secret), 'a reload does not show the secret again');
    assert.doesNotMatch(reload.html, /data-flash/);
    assert.equal(await clientCount(), before + 1, 'one client, whatever the reloads');
    // The flash is kept server-side, sealed: the row holds no clear secret.
    const rows = await t.atrium.services.db.crossTenant('test: the sealed flash', (q) => q.query<{ flash_enc: string | null }>('SELECT flash_enc FROM console_sessions WHERE flash_enc IS NOT NULL'));
    for (const row of rows.rows) assert.ok(!row.flash_enc!.includes(secret));
  });

  it("shows an application's issuer, discovery URL from the tenant's issuer and snippets with a copy script (no inline script)", async () => {
    const created = await post('/admin/clients', { client_name: 'Snippet app', kind: 'web', redirect_uris: 'https://snip.example/cb' });
    const page = await get(created.location!);
    const clientId = /id="client-id">([^<]+)</.exec(page.html)![1]!;
    assert.ok(page.html.includes(`<code id="issuer">${acme.issuer}</code>`));
    assert.ok(page.html.includes(`href="${acme.issuer}/.well-known/openid-configuration"`));
    assert.ok(page.html.includes(`client.discovery(new URL(&#34;${acme.issuer}&#34;), &#34;${clientId}&#34;, process.env.ATRIUM_CLIENT_SECRET, client.ClientSecretBasic())`), page.html.slice(page.html.indexOf('snippet-openid-client'), 800 + page.html.indexOf('snippet-openid-client')));
    assert.match(page.html, /redirect_uri:\s+https:\/\/snip\.example\/cb/);
    assert.match(page.html, /<script src="\/assets\/copy\.js" defer><\/script>/);
    assert.doesNotMatch(page.html, /<script>(?!<\/script>)/, 'no inline script');
    // A forged Host never changes the published URLs.
    const forged = await browser.request(`${acme.issuer}${created.location!}`, { headers: { 'x-forwarded-host': 'evil.example' } });
    assert.doesNotMatch(await forged.text(), /evil\.example/);
  });

  it('offers the role of a new user as a radio group with Member chosen', async () => {
    const page = await get('/admin/users/new');
    const radios = [...page.html.matchAll(/<input type="(\w+)" name="roles" value="(\w+)"([^>]*)>/g)];
    assert.deepEqual(radios.map((r) => r[1]), ['radio', 'radio', 'radio']);
    assert.deepEqual(radios.filter((r) => r[3]!.includes('checked')).map((r) => r[2]), ['member']);
    const made = await post('/admin/users', { email: 'radio@acme.test', roles: 'owner' });
    assert.equal(made.status, 303);
    const id = /\/admin\/users\/([0-9a-f-]{36})/.exec(made.location!)![1]!;
    assert.deepEqual((await t.api('GET', `/tenants/acme/users/${id}`)).body.roles, ['owner'], 'Owner alone, not "Owner, Member"');
  });

  it('shows audit actors by name and email', async () => {
    const page = await get('/admin/audit?action=client.created');
    assert.ok(page.html.includes(`<span class="person" title="${acme.userId}">User of acme <span class="muted">&lt;${acme.email}&gt;</span></span>`));
  });

  it('passes a work address from /account/login?login_hint= on to /auth and refuses anything else with a 400', async () => {
    const fresh = async (hint: string) => {
      const res = await httpFetch(`${acme.issuer}/account/login?login_hint=${encodeURIComponent(hint)}`, { redirect: 'manual', headers: { accept: 'application/json' } });
      return { status: res.status, location: res.headers.get('location'), text: await res.text() };
    };
    const ok = await fresh('carol@corp.test');
    assert.equal(ok.status, 302);
    assert.equal(new URL(ok.location!, acme.issuer).searchParams.get('login_hint'), 'carol@corp.test');
    for (const bad of ['not-an-email', `${'a'.repeat(320)}@corp.test`, 'two@a.test three@b.test']) {
      const res = await fresh(bad);
      assert.equal(res.status, 400, bad);
      assert.match(res.text, /login_hint: must be one email address/);
      assert.match(res.text, /correlation_id/);
      assert.doesNotMatch(res.text, /\bat .+\.ts:\d+/, 'no stack trace');
    }
  });

  it('serves /favicon.ico on every host, as an icon, cacheable, and links it from pages', async () => {
    for (const origin of [acme.issuer, t.baseUrl]) {
      const res = await httpFetch(`${origin}/favicon.ico`);
      assert.equal(res.status, 200, origin);
      assert.equal(res.headers.get('content-type'), 'image/x-icon');
      assert.match(res.headers.get('cache-control') ?? '', /public, max-age=\d+/);
      const body = Buffer.from(await res.arrayBuffer());
      assert.deepEqual([...body.subarray(0, 4)], [0, 0, 1, 0], 'an ICO header');
    }
    assert.match((await get('/admin')).html, /<link rel="icon" href="\/favicon\.ico">/);
  });
});
