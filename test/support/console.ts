/** Signing in to Atrium's own pages (/account, /admin, /platform) like a browser would. */
import assert from 'node:assert/strict';
import { hiddenInput, TestBrowser } from './http-client.ts';

/**
 * Opens `origin + returnTo`, is sent through the tenant's login page, submits the
 * credentials and follows the redirects back; returns the browser (holding the console
 * cookie) and the page it landed on.
 */
export async function signInToConsole(origin: string, credentials: { email: string; password: string }, returnTo = '/account', browser = new TestBrowser()): Promise<{ browser: TestBrowser; url: URL; status: number; html: string }> {
  let step = await browser.follow(new URL(returnTo, origin));
  let html = await step.res.text();
  assert.ok(html.includes('name="password"'), `expected the login page, got ${step.res.status} at ${step.url.href}: ${html.slice(0, 300)}`);
  const res = await browser.postForm(step.url.href.replace(/\/$/, '') + '/login', { csrf: hiddenInput(html, 'csrf'), email: credentials.email, password: credentials.password });
  assert.equal(res.status, 303, `sign-in refused: ${res.status}`);
  step = await browser.follow(new URL(res.headers.get('location')!, step.url));
  html = await step.res.text();
  return { browser, url: step.url, status: step.res.status, html };
}
