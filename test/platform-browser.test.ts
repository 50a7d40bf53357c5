/**
 * Issue 3's acceptance in Chromium, on a phone-sized screen: a platform admin signs in on
 * the platform host, creates a tenant through /platform, sets its branding in the
 * configuration editor, and the tenant's login page shows it: the Sign in button's pixels
 * are the new primary colour (read from a real screenshot) and the logo is the one set.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { PNG } from 'pngjs';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { chromiumMissing, launchChromium, PHONE, watchCspViolations } from './support/browser.ts';

const SKIP = chromiumMissing();
const ADMIN = { email: 'root@platform.test', password: 'platform-root-correct-horse' };
const PRIMARY = '#d9480f';
const LOGO = 'https://logo.invalid/wayne-light.png';

let t: TestAtrium | undefined;
let browser: Browser | undefined;

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium({ ATRIUM_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await t?.stop();
});

/** A light-scheme phone whose requests for the logo's host get a small orange PNG (nothing leaves the machine). */
async function newPhone(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ ...PHONE, colorScheme: 'light' });
  const logo = new PNG({ width: 8, height: 8 });
  logo.data.fill(0xff);
  await context.route('https://logo.invalid/**', (route) => route.fulfill({ status: 200, contentType: 'image/png', body: PNG.sync.write(logo) }));
  return { context, page: await context.newPage() };
}

/** The page is usable on the phone: no inline script or style, nothing wider than the screen. */
async function assertCleanOnPhone(page: Page): Promise<void> {
  assert.equal(await page.locator('script:not([src])').count(), 0, `no inline <script> on ${page.url()}`);
  // (Chromium itself leaves empty style="" on form fields after a screenshot; only a value would be inline CSS.)
  assert.equal(await page.locator('[style]:not([style=""])').count(), 0, `no inline style on ${page.url()}`);
  assert.equal(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth'), true, `no horizontal scrolling at 390px on ${page.url()}`);
}

/** The colour of a pixel on the left edge, half-way down, of an element's screenshot. */
async function edgeColour(page: Page, locator: ReturnType<Page['locator']>): Promise<[number, number, number]> {
  const png = PNG.sync.read(await locator.screenshot({ animations: 'disabled' }));
  const x = Math.round(png.width * 0.05);
  const y = Math.floor(png.height / 2);
  const i = (png.width * y + x) * 4;
  return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
}

const rgb = (hex: string): [number, number, number] => [1, 3, 5].map((i) => Number.parseInt(hex.slice(i, i + 2), 16)) as [number, number, number];
const close = (a: readonly number[], b: readonly number[]) => a.every((v, i) => Math.abs(v - b[i]!) <= 3);

describe('/platform in a browser', () => {
  it("creates a tenant, sets its branding, and the tenant's login page shows it", async (ctx) => {
    if (SKIP) return ctx.skip(SKIP);
    const { context, page } = await newPhone();
    const csp = watchCspViolations(page);
    try {
      // Sign in on the platform host as the bootstrap platform admin.
      await page.goto(`${t!.baseUrl}/platform`);
      assert.match(new URL(page.url()).pathname, /^\/interaction\//, `expected the login page, got ${page.url()}`);
      await page.getByLabel('Email').fill(ADMIN.email);
      await page.getByLabel('Password').fill(ADMIN.password);
      await Promise.all([page.waitForURL((u) => u.pathname === '/platform'), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
      assert.equal((await page.getByRole('heading', { level: 1 }).textContent())?.trim(), 'Tenants');
      await assertCleanOnPhone(page);

      // Create the tenant through the form.
      await page.getByRole('link', { name: 'Create a tenant' }).click();
      await page.getByLabel('Slug', { exact: true }).fill('wayne');
      await page.getByLabel('Name', { exact: true }).fill('Wayne Enterprises');
      await Promise.all([page.waitForURL((u) => u.pathname === '/platform/tenants/wayne'), page.getByRole('button', { name: 'Create the tenant' }).click()]);
      assert.match((await page.getByRole('heading', { level: 1 }).textContent()) ?? '', /Wayne Enterprises/);
      assert.match((await page.locator('main').textContent()) ?? '', new RegExp(t!.issuer('wayne').replaceAll('.', '\\.')));
      await assertCleanOnPhone(page);
      await page.screenshot({ path: '/tmp/platform-tenant.png', fullPage: true });

      // The tenant's login page before any branding: the default colour, the tenant's name.
      const before = await newPhone();
      await before.page.goto(`${t!.issuer('wayne')}/account`);
      const defaultColour = await edgeColour(before.page, before.page.getByRole('button', { name: 'Sign in', exact: true }));
      assert.ok(!close(defaultColour, rgb(PRIMARY)), `the default button is not already ${PRIMARY}`);
      await before.context.close();

      // Set the branding in the configuration editor.
      await page.getByRole('link', { name: 'Edit configuration' }).click();
      await page.waitForURL((u) => u.pathname === '/platform/tenants/wayne/config');
      await assertCleanOnPhone(page);
      await page.locator('#branding details.advanced summary').click(); // the JSON is the advanced view, behind the generated form
      await page.getByLabel('Overrides of branding').fill(JSON.stringify({ company_name: 'Wayne Ent.', colors: { light: { primary: PRIMARY } }, logos: { light: LOGO } }, null, 2));
      await Promise.all([page.waitForURL((u) => u.searchParams.get('saved') === 'branding'), page.getByRole('button', { name: 'Save branding as JSON' }).click()]);
      assert.equal((await page.getByRole('status').first().textContent())?.trim(), 'The branding section was saved.');
      await page.screenshot({ path: '/tmp/platform-config.png', fullPage: true });

      // The tenant's login page, as an end user sees it: a fresh browser on the tenant's host.
      const visitor = await newPhone();
      try {
        await visitor.page.goto(`${t!.issuer('wayne')}/account`);
        assert.match(new URL(visitor.page.url()).pathname, /^\/interaction\//);
        assert.equal(new URL(visitor.page.url()).origin, t!.issuer('wayne'));
        const button = visitor.page.getByRole('button', { name: 'Sign in', exact: true });
        await button.screenshot({ path: '/tmp/platform-branded-sign-in.png' });
        const colour = await edgeColour(visitor.page, button);
        assert.ok(close(colour, rgb(PRIMARY)), `the Sign in button is ${PRIMARY}, got rgb(${colour.join(', ')})`);
        const logo = visitor.page.locator('img.brand-logo');
        assert.equal(await logo.getAttribute('src'), LOGO);
        assert.equal(await logo.getAttribute('alt'), 'Wayne Ent.');
        assert.equal(await visitor.page.title(), 'Sign in · Wayne Ent.');
        // Served by the route above: the image really loads under the page's CSP.
        await visitor.page.waitForFunction("document.querySelector('img.brand-logo').complete");
        assert.equal(await visitor.page.evaluate("document.querySelector('img.brand-logo').naturalWidth"), 8, 'the logo loaded under the CSP');
        await assertCleanOnPhone(visitor.page);
      } finally {
        await visitor.context.close();
      }
      assert.deepEqual(csp, [], 'no Content-Security-Policy violations on the /platform pages');
    } finally {
      await context.close();
    }
  });
});
