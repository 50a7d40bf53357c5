/** Demo mode: two tenants with a client and a user each, and the built-in /demo relying party. */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { hiddenInput, TestBrowser } from './support/http-client.ts';
import { seedDemo, type DemoTenant } from '../src/commands/demo.ts';

let t: TestAtrium;
let demo: DemoTenant[];
before(async () => {
  t = await startTestAtrium({ ATRIUM_DEMO: 'true' });
  demo = await seedDemo(t.atrium.services);
  assert.deepEqual(await seedDemo(t.atrium.services), demo, 'seeding twice changes nothing');
});
after(() => t?.stop());

it('creates two demo tenants on their own subdomains', () => {
  assert.deepEqual(demo.map((d) => d.issuer), [t.issuer('acme'), t.issuer('globex')]);
});

for (const index of [0, 1]) {
  it(`signs the demo user in through /demo on tenant ${index === 0 ? 'acme' : 'globex'}, and out again`, async () => {
    const d = demo[index]!;
    const browser = new TestBrowser();
    let step = await browser.follow(`${d.issuer}/demo`);
    let html = await step.res.text();
    assert.match(html, /name="password"/);
    let res = await browser.postForm(`${step.url.href}/login`, { csrf: hiddenInput(html, 'csrf'), email: d.email, password: d.password });
    step = await browser.follow(new URL(res.headers.get('location')!, step.url));
    html = await step.res.text();
    res = await browser.postForm(`${step.url.href}/confirm`, { csrf: hiddenInput(html, 'csrf') });
    step = await browser.follow(new URL(res.headers.get('location')!, step.url));
    html = await step.res.text();
    assert.equal(step.res.status, 200, html);
    assert.match(html, /Signed in/);
    assert.ok(html.includes(d.email));
    const logout = /href="([^"]*session\/end[^"]*)"/.exec(html)![1]!.replace(/&amp;/g, '&');
    const confirm = await browser.request(new URL(logout, d.issuer));
    const form = await confirm.text();
    res = await browser.postForm(new URL(/action="([^"]+)"/.exec(form)![1]!, d.issuer), { xsrf: hiddenInput(form, 'xsrf'), logout: 'yes' });
    step = await browser.follow(new URL(res.headers.get('location')!, d.issuer));
    assert.match(await step.res.text(), /signed out/i);
  });
}

it('refuses a callback that this browser did not start', async () => {
  const res = await new TestBrowser().request(`${demo[0]!.issuer}/demo/callback?code=x&state=y&iss=${encodeURIComponent(demo[0]!.issuer)}`);
  assert.equal(res.status, 400);
  assert.match(await res.text(), /not started here/);
});
