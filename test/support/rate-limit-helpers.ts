/** Helpers for the rate limit tests: tenant limits, the login form, token requests. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Response } from 'undici';
import type { TestAtrium } from './atrium.ts';
import { REDIRECT_URI, type TenantFixture } from './fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './http-client.ts';

export type Limits = Record<string, { limit: number; window_seconds: number }>;

/** Sets a tenant's `security.rate_limits` through the configuration API. */
export async function setRateLimits(t: TestAtrium, slug: string, rateLimits: Limits): Promise<string> {
  const res = await t.api('PUT', `/tenants/${slug}/config/security`, { rate_limits: rateLimits });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return (await t.api('GET', `/tenants/${slug}`)).body.id as string;
}

export interface LoginForm {
  browser: TestBrowser;
  /** Posts the form (optionally as coming from `ip`, through X-Forwarded-For). */
  submit(email: string, password: string, ip?: string): Promise<Response>;
}

/** Starts an authorization request for the fixture's web client and opens its login form. */
export async function openLoginForm(f: TenantFixture, ip?: string): Promise<LoginForm> {
  const browser = new TestBrowser();
  const url = new URL(`${f.issuer}/auth`);
  url.search = new URLSearchParams({ client_id: f.clientId, redirect_uri: REDIRECT_URI, response_type: 'code', scope: 'openid', state: randomUUID() }).toString();
  const page = await browser.follow(url, () => false, ip ? { headers: { 'x-forwarded-for': ip } } : {});
  const html = await page.res.text();
  assert.equal(page.res.status, 200, html.slice(0, 300));
  const csrf = hiddenInput(html, 'csrf');
  const action = `${page.url.href.replace(/\/$/, '')}/login`;
  return {
    browser,
    submit: (email, password, from = ip) => browser.postForm(action, { csrf, email, password }, from ? { 'x-forwarded-for': from } : {}),
  };
}

export function basic(clientId: string, secret: string): string {
  return `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** A client credentials request to a tenant's token endpoint. */
export async function tokenRequest(issuer: string, init: { authorization?: string; body?: Record<string, string>; ip?: string; path?: string } = {}) {
  const res = await httpFetch(`${issuer}${init.path ?? '/token'}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      ...(init.authorization ? { authorization: init.authorization } : {}),
      ...(init.ip ? { 'x-forwarded-for': init.ip } : {}),
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', ...init.body }).toString(),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
