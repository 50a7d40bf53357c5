/**
 * /admin/webhooks in Chromium, with screenshots into a temp dir (paths printed): an owner
 * adds a subscription with the form (the signing secret shown once, gone on reload), an
 * event is delivered to a local receiver that verifies it with the reference library and
 * shows up as delivered; with the receiver down the next one ends failed (attempts, last
 * error), and once it is back "Replay" delivers it with the same webhook-id. No CSP
 * violation on any page.
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
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.ts';

const SKIP = chromiumMissing();
const SHOTS = mkdtempSync(path.join(tmpdir(), 'atrium-webhook-shots-'));

let t: TestAtrium | undefined;
let browser: Browser | undefined;
let rx: WebhookReceiver | undefined;
let acme: TenantFixture;

before(async () => {
  if (SKIP) return;
  // Two quick attempts, so a delivery to a receiver that is down ends failed within a second.
  t = await startTestAtrium({ WEBHOOK_RETRY_BASE_MS: '100', WEBHOOK_MAX_ATTEMPTS: '2', WEBHOOK_POLL_INTERVAL_MS: '100' });
  acme = await createTenantFixture(t, 'acme');
  rx = await startWebhookReceiver();
  browser = await launchChromium();
});
after(async () => {
  await browser?.close();
  await rx?.close();
  await t?.stop();
});

async function shot(page: Page, name: string): Promise<void> {
  const file = path.join(SHOTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`screenshot: ${file}`);
}

/** Reloads until a delivery row of `status` is on the page; its webhook-id. */
async function waitForRow(page: Page, status: string, not: string[] = []): Promise<string> {
  for (let i = 0; i < 100; i++) {
    for (const id of await page.locator(`tr[data-status="${status}"]`).evaluateAll((rows) => rows.map((r) => r.getAttribute('data-delivery') ?? ''))) {
      if (!not.includes(id)) return id;
    }
    await new Promise((r) => setTimeout(r, 100));
    await page.reload();
  }
  throw new Error(`no ${status} delivery on ${page.url()}`);
}

describe('/admin/webhooks in Chromium', { skip: SKIP }, () => {
  it('adds a subscription (secret once), sees a delivery, and replays a failed one once the receiver is back', async () => {
    const context = await browser!.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const violations = watchCspViolations(page);
    await page.goto(`${acme.issuer}/admin/webhooks/new`);
    await page.getByLabel('Email', { exact: true }).fill(acme.email);
    await page.getByLabel('Password', { exact: true }).fill(acme.password);
    await Promise.all([page.waitForURL(/\/admin\/webhooks\/new$/), page.getByRole('button', { name: 'Sign in', exact: true }).click()]);
    await page.getByLabel('Receiver URL').fill(rx!.url('/browser'));
    await page.getByLabel('Description (optional)').fill('CRM sync');
    await page.locator('input[name=event_types][value="user.created"]').check();
    await page.locator('input[name=event_types][value="client.changed"]').check();
    await shot(page, '1-add-webhook-form');
    await Promise.all([page.waitForURL(/\/admin\/webhooks\/[0-9a-f-]{36}$/), page.getByRole('button', { name: 'Add webhook' }).click()]);
    const secret = (await page.locator('#webhook-secret').textContent()) ?? '';
    assert.match(secret, /^whsec_/, 'the secret is shown after the redirect');
    rx!.expect('/browser', secret);
    await shot(page, '2-webhook-created-secret-once');

    await page.reload();
    assert.equal(await page.locator('#webhook-secret').count(), 0, 'a reload shows no secret');
    assert.equal((await t!.api('GET', '/tenants/acme/webhooks')).body.webhooks.length, 1, 'and adds no second subscription');

    // An event: delivered, verified by the receiver with the secret the page showed.
    const first = await t!.api('POST', '/tenants/acme/users', { email: 'first@acme.test' });
    await rx!.waitFor('the first event', (r) => r.some((x) => x.payload.data.subject === first.body.id));
    const delivered = await waitForRow(page, 'delivered');
    assert.equal(delivered, rx!.received[0]!.id);
    await shot(page, '3-delivered');

    // The receiver is down: the next event ends failed after its attempts.
    await rx!.down();
    const second = await t!.api('POST', '/tenants/acme/users', { email: 'second@acme.test' });
    const failed = await waitForRow(page, 'failed');
    const row = page.locator(`tr[data-delivery="${failed}"]`);
    assert.match((await row.textContent()) ?? '', /the receiver could not be reached/);
    await shot(page, '4-failed-delivery');
    await page.goto(`${acme.issuer}/admin/webhooks`);
    assert.equal(await page.locator('#failed-deliveries tbody tr').count(), 1);
    await shot(page, '5-webhooks-list-with-failure');

    // Back up: "Replay" delivers it, under the same webhook-id.
    await rx!.up();
    await page.goBack();
    await page.reload();
    await Promise.all([page.waitForURL(/done=webhook_replayed$/), page.locator(`tr[data-delivery="${failed}"] button`).click()]);
    assert.match((await page.locator('[role=status]').first().textContent()) ?? '', /Replay queued/);
    await rx!.waitFor('the replayed event', (r) => r.some((x) => x.id === failed && x.payload.data.subject === second.body.id));
    await page.goto(`${acme.issuer}/admin/webhooks/${page.url().split('/').pop()!.split('?')[0]}`);
    assert.equal(await waitForRow(page, 'delivered', [delivered]), failed);
    assert.equal(await page.locator('tr[data-status="failed"]').count(), 0);
    await shot(page, '6-replayed-delivered');
    assert.deepEqual(rx!.rejected, []);
    assert.deepEqual(violations, []);
    await context.close();
  });
});
