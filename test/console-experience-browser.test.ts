/**
 * The consoles' issue-17 edges in Chromium, with screenshots into a temp dir (paths
 * printed): creating an application ends on its page (after a 303) with the secret once,
 * the issuer, discovery URL and snippets with working copy buttons; a reload shows no
 * secret and creates no second application; "Add a user" has Member chosen; the audit log
 * names people. No CSP violation on any page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, watchCspViolations } from './support/browser.ts';

const SKIP = chromiumMissing();
const SHOTS = mkdtempSync(path.join(tmpdir(), 'atrium-console-shots-'));

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let acme: TenantFixture;

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await t?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

describe('console experience in Chromium', { skip: SKIP }, () => {
  it('walks application creation (PRG), snippets, role default and audit names', async () => {
    const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: acme.issuer });
    const page = await context.newPage();
    const violations = watchCspViolations(page);
    await page.goto(`${acme.issuer}/admin/clients/new`);
    await page.getByLabel('Email', { exact: true }).fill(acme.email);
    await page.getByLabel('Password', { exact: true }).fill(acme.password);
    await Promise.all([page.waitForURL(/\/admin\/clients\/new$/), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);

    const before = (await t!.api('GET', '/tenants/acme/clients?limit=100')).body.clients.length as number;
    await page.getByLabel('Name', { exact: true }).fill('Screenshot app');
    await page.locator('#redirect_uris').fill('https://shot.example/cb');
    await Promise.all([page.waitForURL(/\/admin\/clients\/[^/]+$/), page.locator('form.admin-form button[type=submit]').click()]);
    const secret = await page.locator('#client-secret').textContent();
    assert.ok(secret && secret.length > 20, 'the secret is shown after the redirect');
    assert.match(await page.locator('#issuer').textContent() ?? '', new RegExp(`^${acme.issuer}$`));
    await page.locator('button[data-copy="snippet-openid-client"]').click();
    assert.match(await page.evaluate<string>('navigator.clipboard.readText()'), /client\.discovery\(new URL/);
    await shot(page, '1-application-created');

    await page.reload();
    assert.equal(await page.locator('#client-secret').count(), 0, 'a reload shows no secret');
    assert.equal((await t!.api('GET', '/tenants/acme/clients?limit=100')).body.clients.length, before + 1, 'and creates no second application');
    await shot(page, '2-application-reloaded');

    await page.goto(`${acme.issuer}/admin/users/new`);
    assert.equal(await page.locator('input[type=radio][name=roles][value=member]').isChecked(), true);
    await shot(page, '3-add-user');

    await page.goto(`${acme.issuer}/admin/audit`);
    assert.ok((await page.locator('.person').count()) > 0, 'people named in the audit log');
    await shot(page, '4-audit');
    assert.deepEqual(violations, []);
    await context.close();
  });
});
