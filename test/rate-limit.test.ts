/**
 * Rate limits on the sign-in form and the token endpoint, per tenant: a tenant with strict
 * limits refuses with 429 and Retry-After, while another tenant, with its own limits, and
 * other IPs and accounts go on unaffected. Client IPs come from X-Forwarded-For
 * (TRUST_PROXY), so each test has addresses of its own.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { httpFetch } from './support/http-client.ts';
import { basic, openLoginForm, setRateLimits, tokenRequest } from './support/rate-limit-helpers.ts';

let t: TestAtrium;
let strict: TenantFixture;
let loose: TenantFixture;

before(async () => {
  t = await startTestAtrium({ TRUST_PROXY: 'true' });
  [strict, loose] = await Promise.all([createTenantFixture(t, 'strict'), createTenantFixture(t, 'loose')]);
  const hour = 3600;
  await setRateLimits(t, 'strict', {
    login_per_ip: { limit: 3, window_seconds: hour },
    login_per_account: { limit: 3, window_seconds: hour },
    token_per_client: { limit: 3, window_seconds: hour },
    token_per_ip: { limit: 6, window_seconds: hour },
  });
  await setRateLimits(t, 'loose', {
    login_per_ip: { limit: 50, window_seconds: 60 },
    login_per_account: { limit: 20, window_seconds: 900 },
    token_per_client: { limit: 100, window_seconds: 60 },
  });
});
after(() => t?.stop());

function assertRetryAfter(headers: { get(name: string): string | null }): number {
  const value = Number(headers.get('retry-after'));
  assert.ok(Number.isInteger(value) && value > 0 && value <= 2 * 3600, `Retry-After: ${headers.get('retry-after')}`);
  return value;
}

async function auditOf(slug: string) {
  const tenant = (await t.atrium.services.tenantStore.findBySlug(slug))!;
  return runAsTenant(tenant.id, () =>
    t.atrium.services.db.withTenant(async (q) => (await q.query<{ action: string; outcome: string; target: string | null; ip: string | null; details: any }>('SELECT action, outcome, target, ip, details FROM audit_events ORDER BY at')).rows),
  );
}

describe('sign-in limits', () => {
  it('per IP: the attempt after the limit is refused with 429, Retry-After and a message, even with the right password', async () => {
    const ip = '203.0.113.1';
    const form = await openLoginForm(strict);
    for (let i = 0; i < 3; i++) {
      const res = await form.submit(`nobody-${i}@strict.test`, 'wrong password', ip);
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      await res.body?.cancel();
    }
    const refused = await form.submit(strict.email, strict.password, ip);
    assert.equal(refused.status, 429);
    assertRetryAfter(refused.headers);
    const page = await refused.text();
    assert.match(page, /role="alert">Too many sign-in attempts\. For your security, wait \d+ minutes? before trying again\./);
    assert.match(page, /name="password"/, 'the login form is shown again');
    assert.doesNotMatch(page, /login_per_ip/, 'the page does not say which limit');
    assert.match(await t.atrium.services.metrics.registry.metrics(), new RegExp(`atrium_rate_limit_rejections_total\\{tenant="${strict.slug}",limit="login_per_ip"\\} [1-9]`));

    // Another IP on the same tenant, and the same IP on another tenant, sign in.
    const other = await openLoginForm(strict);
    assert.equal((await other.submit(strict.email, strict.password, '203.0.113.2')).status, 303);
    const elsewhere = await openLoginForm(loose);
    for (let i = 0; i < 4; i++) assert.equal((await elsewhere.submit(`nobody-${i}@loose.test`, 'wrong password', ip)).status, 401);
    assert.equal((await elsewhere.submit(loose.email, loose.password, ip)).status, 303);
  });

  it('per account: attempts from many IPs at one email (any case) are refused after the limit; audited once', async () => {
    const form = await openLoginForm(strict);
    const spellings = [strict.email.toUpperCase(), strict.email, ` ${strict.email.replace('user', 'User')}`];
    for (const [i, email] of spellings.entries()) {
      const res = await form.submit(email, 'wrong password', `198.51.100.${i + 1}`);
      assert.equal(res.status, 401, `attempt ${i + 1}`);
      await res.body?.cancel();
    }
    for (const ip of ['198.51.100.50', '198.51.100.51']) {
      const refused = await form.submit(strict.email, strict.password, ip);
      assert.equal(refused.status, 429, `from ${ip}`);
      assertRetryAfter(refused.headers);
      assert.match(await refused.text(), /Too many sign-in attempts/);
    }
    // Another account of the same tenant is not affected, nor the same-named account elsewhere.
    const created = await t.api('POST', '/tenants/strict/users', { email: 'second@strict.test', password: 'second-correct-horse' });
    assert.equal(created.status, 201);
    assert.equal((await (await openLoginForm(strict)).submit('second@strict.test', 'second-correct-horse', '198.51.100.60')).status, 303);
    const elsewhere = await openLoginForm(loose);
    for (let i = 0; i < 4; i++) assert.equal((await elsewhere.submit(loose.email, 'wrong password', '198.51.100.70')).status, 401);
    assert.equal((await elsewhere.submit(loose.email, loose.password, '198.51.100.70')).status, 303);

    const refusals = (await auditOf('strict')).filter((e) => e.action === 'user.sign_in_rate_limited');
    const byAccount = refusals.filter((e) => e.details.limit === 'login_per_account');
    assert.equal(byAccount.length, 1, 'one audit event for the refused account, not one per attempt');
    assert.equal(byAccount[0]!.outcome, 'failure');
    assert.equal(byAccount[0]!.target, strict.email);
    assert.equal(byAccount[0]!.ip, '198.51.100.50');
    assert.ok(byAccount[0]!.details.retry_after > 0 && byAccount[0]!.details.client_id === strict.clientId);
    assert.ok(refusals.some((e) => e.details.limit === 'login_per_ip' && e.ip === '203.0.113.1'), 'the per-IP refusal is audited too');
    assert.ok(!(await auditOf('loose')).some((e) => e.action === 'user.sign_in_rate_limited'));
  });

  it('a successful sign-in clears the account count', async () => {
    const created = await t.api('POST', '/tenants/strict/users', { email: 'third@strict.test', password: 'third-correct-horse' });
    assert.equal(created.status, 201);
    for (let round = 0; round < 2; round++) {
      const form = await openLoginForm(strict);
      for (let i = 0; i < 2; i++) assert.equal((await form.submit('third@strict.test', 'wrong password', `192.0.2.${round * 10 + i}`)).status, 401);
      assert.equal((await form.submit('third@strict.test', 'third-correct-horse', `192.0.2.${round * 10 + 5}`)).status, 303, `round ${round + 1}`);
    }
  });
});

describe('token endpoint limits', () => {
  it('per client: refused with 429 JSON after the limit, whatever the IP; wrong secrets do not spend it', async () => {
    const auth = basic(strict.m2mClientId, strict.m2mClientSecret);
    for (let i = 0; i < 4; i++) assert.equal((await tokenRequest(strict.issuer, { authorization: basic(strict.m2mClientId, `wrong-${i}`), ip: '203.0.113.20' })).status, 401);
    for (let i = 0; i < 3; i++) {
      const ok = await tokenRequest(strict.issuer, { authorization: auth, ip: '203.0.113.21' });
      assert.equal(ok.status, 200, ok.text);
    }
    const refused = await tokenRequest(strict.issuer, { authorization: auth, ip: '203.0.113.21' });
    assert.equal(refused.status, 429);
    assertRetryAfter(refused.headers);
    assert.equal(refused.headers.get('cache-control'), 'no-store');
    assert.equal(refused.json.error, 'rate_limited');
    assert.match(refused.json.error_description, /^too many token requests; retry after \d+ seconds$/);
    assert.equal(refused.json.correlation_id, refused.headers.get('x-correlation-id'));
    assert.equal((await tokenRequest(strict.issuer, { authorization: auth, ip: '203.0.113.22' })).status, 429, 'from another IP');
    assert.equal((await tokenRequest(strict.issuer, { authorization: auth, ip: '203.0.113.23', path: '/Token/' })).status, 429, 'through a spelling oidc-provider also routes');

    // The other tenant's client, with its own (higher) limit, is served.
    for (let i = 0; i < 5; i++) assert.equal((await tokenRequest(loose.issuer, { authorization: basic(loose.m2mClientId, loose.m2mClientSecret), ip: '203.0.113.21' })).status, 200);
  });

  it('per client also when the secret comes in the body (client_secret_post), through either way in', async () => {
    const registered = await t.api('POST', '/tenants/strict/clients', { client_name: 'posting', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], token_endpoint_auth_method: 'client_secret_post' });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const credentials = { client_id: registered.body.client_id as string, client_secret: registered.body.client_secret as string };
    for (let i = 0; i < 4; i++) assert.equal((await tokenRequest(strict.issuer, { body: { ...credentials, client_secret: `wrong-${i}` }, ip: `203.0.113.${40 + i}` })).status, 401);
    for (let i = 0; i < 3; i++) {
      const ok = await tokenRequest(strict.issuer, { body: credentials, ip: `203.0.113.${50 + i}` });
      assert.equal(ok.status, 200, ok.text);
    }
    const refused = await tokenRequest(strict.issuer, { body: credentials, ip: '203.0.113.60' });
    assert.equal(refused.status, 429, refused.text);
    assert.equal(refused.json.error, 'rate_limited');
    // The full stack's limiter (a spelling the fast path leaves to it) reads the same body.
    assert.equal((await tokenRequest(strict.issuer, { body: credentials, ip: '203.0.113.61', path: '/Token/' })).status, 429);
  });

  it('per IP: counts every token request from the address, however the client authenticates', async () => {
    const ip = '203.0.113.30';
    for (let i = 0; i < 6; i++) {
      // A different wrong secret each time: the same one would also fill its own per-client bucket.
      const res = await tokenRequest(strict.issuer, { body: { client_id: strict.m2mClientId, client_secret: `wrong-${i}` }, ip });
      assert.equal(res.status, 401, res.text);
    }
    const refused = await tokenRequest(strict.issuer, { authorization: basic(strict.clientId, strict.clientSecret), ip });
    assert.equal(refused.status, 429);
    assert.equal(refused.json.error, 'rate_limited');
    assertRetryAfter(refused.headers);
    const exposition = await t.atrium.services.metrics.registry.metrics();
    assert.match(exposition, new RegExp(`atrium_rate_limit_rejections_total\\{tenant="${strict.slug}",limit="token_per_ip"\\} [1-9]`), 'the refusal is counted in /metrics');
    // The same address at the other tenant, and other requests of the strict tenant, are served.
    assert.equal((await tokenRequest(loose.issuer, { authorization: basic(loose.m2mClientId, loose.m2mClientSecret), ip })).status, 200);
    const discovery = await httpFetch(`${strict.issuer}/.well-known/openid-configuration`, { headers: { 'x-forwarded-for': ip } });
    assert.equal(discovery.status, 200);
  });
});

describe('windows', () => {
  /**
   * Calls `attempt` (each time with a fresh subject where the limit is not the one tested)
   * until it is served, and returns how long that took; fails after `maxMs`.
   */
  async function servedWithin(maxMs: number, attempt: (n: number) => Promise<number>): Promise<number> {
    const start = Date.now();
    for (let n = 0; ; n++) {
      if ((await attempt(n)) !== 429) return Date.now() - start;
      assert.ok(Date.now() - start < maxMs, `still refused after ${maxMs} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('each limit counts over its own window_seconds: a short window lets the next request through within seconds', async () => {
    const brief = await createTenantFixture(t, 'brief');
    const second = { limit: 1, window_seconds: 1 };
    await setRateLimits(t, 'brief', { login_per_ip: second, login_per_account: second, token_per_client: second, token_per_ip: second });
    // With a one-second window the sliding count is gone within two; the strict tenant's
    // hour-long windows, with the same kind of refusal, ask for minutes (tests above).
    const refusedBriefly = (res: { status: number; headers: { get(name: string): string | null } }, what: string) => {
      assert.equal(res.status, 429, what);
      assert.ok(Number(res.headers.get('retry-after')) <= 2, `${what}: Retry-After ${res.headers.get('retry-after')}`);
    };

    // login_per_ip: two emails from one address.
    const byIp = await openLoginForm(brief);
    assert.equal((await byIp.submit('a@brief.test', 'wrong password', '10.9.0.1')).status, 401);
    refusedBriefly(await byIp.submit('b@brief.test', 'wrong password', '10.9.0.1'), 'login_per_ip');
    await servedWithin(3_000, async (n) => (await byIp.submit(`c${n}@brief.test`, 'wrong password', '10.9.0.1')).status);

    // login_per_account: one email from two addresses.
    const byAccount = await openLoginForm(brief);
    assert.equal((await byAccount.submit(brief.email, 'wrong password', '10.9.1.1')).status, 401);
    refusedBriefly(await byAccount.submit(brief.email, 'wrong password', '10.9.1.2'), 'login_per_account');
    await servedWithin(3_000, async (n) => (await byAccount.submit(brief.email, brief.password, `10.9.1.${10 + n}`)).status);

    // token_per_client: one client from two addresses.
    const client = basic(brief.m2mClientId, brief.m2mClientSecret);
    assert.equal((await tokenRequest(brief.issuer, { authorization: client, ip: '10.9.2.1' })).status, 200);
    refusedBriefly(await tokenRequest(brief.issuer, { authorization: client, ip: '10.9.2.2' }), 'token_per_client');
    await servedWithin(3_000, async (n) => (await tokenRequest(brief.issuer, { authorization: client, ip: `10.9.2.${10 + n}` })).status);

    // token_per_ip: two wrong secrets (they spend no client's count) from one address.
    const wrong = (n: number) => tokenRequest(brief.issuer, { body: { client_id: brief.m2mClientId, client_secret: `wrong-${n}` }, ip: '10.9.3.1' });
    assert.equal((await wrong(-1)).status, 401);
    refusedBriefly(await wrong(-2), 'token_per_ip');
    await servedWithin(3_000, async (n) => (await wrong(n)).status);

    // The strict tenant's hour-long window for the same client still refuses.
    assert.equal((await tokenRequest(strict.issuer, { authorization: basic(strict.m2mClientId, strict.m2mClientSecret), ip: '10.9.2.99' })).status, 429);
  });
});
