/**
 * A real Chromium for browser tests: Debian's /usr/bin/chromium driven by playwright-core
 * (never a downloaded browser). Chromium resolves *.localhost to loopback by itself.
 */
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { TestAtrium } from './atrium.ts';

export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Why browser tests must be skipped here, or undefined when Chromium is installed. */
export function chromiumMissing(): string | undefined {
  return existsSync(CHROMIUM_PATH) ? undefined : `${CHROMIUM_PATH} is not installed (apt-get install -y chromium); browser tests skipped`;
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A phone-sized context (iPhone 12-like, 390px wide) so the pages are seen as most users see them. */
export const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true } as const;

/**
 * A stand-in relying party on loopback that answers its redirect URI with a small page, so
 * the browser can land there. (page.route cannot stand in for it: Playwright does not route
 * requests reached through a redirect, microsoft/playwright#33882.)
 */
export async function startCallbackServer(): Promise<{ redirectUri: string; hits: URL[]; close(): Promise<void> }> {
  const hits: URL[] = [];
  const server = http.createServer((req, res) => {
    hits.push(new URL(req.url ?? '/', 'http://127.0.0.1'));
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
    res.end('<!doctype html><title>Relying party</title><p>Back at the application.</p>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Collects Content-Security-Policy violations the page reports on its console. */
export function watchCspViolations(page: Page): string[] {
  const violations: string[] = [];
  page.on('console', (msg) => {
    if (/Content Security Policy/i.test(msg.text())) violations.push(msg.text());
  });
  return violations;
}

/**
 * A relying party driven by Chromium: a loopback callback server (`/callback`, and
 * `/logged-out` as its post-logout address), its client at tenant `slug`, and the browser.
 */
export async function startBrowserRelyingParty(atrium: TestAtrium, slug: string): Promise<{ server: Awaited<ReturnType<typeof startCallbackServer>>; client: { clientId: string; clientSecret: string }; chromium: Browser }> {
  const server = await startCallbackServer();
  const created = await atrium.api('POST', `/tenants/${slug}/clients`, {
    client_name: `${slug} browser app`, redirect_uris: [server.redirectUri], post_logout_redirect_uris: [server.redirectUri.replace('/callback', '/logged-out')], grant_types: ['authorization_code'], response_types: ['code'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return { server, client: { clientId: created.body.client_id as string, clientSecret: created.body.client_secret as string }, chromium: await launchChromium() };
}
