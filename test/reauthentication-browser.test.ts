/**
 * Re-authentication on /account in a real Chromium (issue 19 item 3): a password change from
 * a console session whose sign-in is older than the tenant's window lands on "Confirm it’s
 * you", and after the password there the change goes through, back on the account page.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { chromiumMissing, launchChromium, PHONE, watchCspViolations } from './support/browser.ts';
import { createUser } from './support/mfa.ts';
import { asTenant, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';

const SKIP = chromiumMissing();

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let acme: TenantFixture;

before(async () => {
  if (SKIP) return;
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  await setSecurity(t, 'acme', { rate_limits: ROOMY_RATE_LIMITS });
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await t?.stop();
});

describe('re-authentication in Chromium', { skip: SKIP }, () => {
  it('asks for the password before a password change from an old session, then finishes the change', async () => {
    const user = await createUser(t!, acme, 'chromium');
    const context = await browser!.newContext({ ...PHONE });
    const page = await context.newPage();
    const csp = watchCspViolations(page);
    await page.goto(`${acme.issuer}/account`);
    await page.locator('#email').fill(user.email);
    await page.locator('#password').fill(user.password);
    await page.locator('form:has(#password) button[type="submit"]').first().click();
    await page.waitForURL(/\/account/);
    // Eight-hour cookie, sign-in long ago: what a stolen cookie looks like.
    await asTenant(t!, 'acme', (q) => q.query(`UPDATE console_sessions SET authenticated_at = now() - interval '1 hour' WHERE user_id = $1`, [user.id]));

    await page.locator('#current_password').fill(user.password);
    await page.locator('#new_password').fill('changed in a real browser');
    await page.locator('#confirm_password').fill('changed in a real browser');
    await page.locator('#password button[type="submit"]').click();
    await page.getByRole('heading', { name: 'Confirm it’s you' }).waitFor();
    await page.locator('#reauth-password').fill(user.password);
    await page.getByRole('button', { name: 'Confirm and continue' }).click();
    await page.waitForURL(/\/account\?done=password_changed/);
    assert.match(await page.content(), /Your password was changed/);
    assert.deepEqual(csp, []);
    await context.close();
  });
});
