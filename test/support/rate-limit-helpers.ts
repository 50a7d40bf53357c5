/** Helpers for the rate limit tests: tenant limits, the login form, token requests, a private Redis. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import type { Response } from 'undici';
import { freePort, type TestAtrium } from './atrium.ts';
import { REDIRECT_URI, type TenantFixture } from './fixtures.ts';
import { hiddenInput, httpFetch, TestBrowser } from './http-client.ts';

export type Limits = Record<string, { limit: number; window_seconds: number }>;

/** Sets a tenant's `security.rate_limits` as a configuration change would (new version, bus event). */
export async function setRateLimits(t: TestAtrium, slug: string, rateLimits: Limits): Promise<string> {
  const { services } = t.atrium;
  const tenant = await services.tenantStore.findBySlug(slug);
  assert.ok(tenant, `no tenant ${slug}`);
  const security = (tenant.config.security ?? {}) as Record<string, unknown>;
  await services.tenantStore.update(tenant.id, { config: { ...tenant.config, security: { ...security, rate_limits: rateLimits } } });
  await services.bus.publish({ type: 'tenant.changed', tenantId: tenant.id, slug });
  return tenant.id;
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

export const REDIS_SERVER = '/usr/bin/redis-server';

export function redisServerMissing(): string | undefined {
  return existsSync(REDIS_SERVER) ? undefined : `${REDIS_SERVER} is not installed; the Redis outage test is skipped`;
}

/** A private, unpersisted redis-server on a port of its own, which a test may kill and restart. */
export class PrivateRedis {
  readonly port: number;
  #child: ChildProcess | undefined;

  private constructor(port: number) {
    this.port = port;
  }

  static async start(): Promise<PrivateRedis> {
    const redis = new PrivateRedis(await freePort());
    await redis.restart();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts the server (again, on the same port) and waits until it answers. */
  async restart(): Promise<void> {
    assert.equal(this.#child, undefined, 'already running');
    const child = spawn(REDIS_SERVER, ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    this.#child = child;
    for (let i = 0; ; i++) {
      const client = new Redis(this.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
      client.on('error', () => {});
      try {
        await client.connect();
        await client.ping();
        return;
      } catch (err) {
        if (i > 100 || child.exitCode !== null) throw new Error(`redis-server did not start: ${(err as Error).message}`, { cause: err });
        await new Promise((r) => setTimeout(r, 50));
      } finally {
        client.disconnect();
      }
    }
  }

  /** SIGKILL: the connection drops the way a crashed or partitioned Redis drops it. */
  async kill(): Promise<void> {
    const child = this.#child;
    if (!child) return;
    this.#child = undefined;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** A short-lived client for assertions on what the limiter stored. */
  async inspect<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    const client = new Redis(this.url, { maxRetriesPerRequest: 1 });
    client.on('error', () => {});
    try {
      return await fn(client);
    } finally {
      client.disconnect();
    }
  }
}
