/**
 * Token, discovery and JWKS requests skip the outer Koa app (src/http/provider-fast-path.ts).
 * What a caller sees must not depend on which way a request went: these tests compare the
 * fast endpoints with oidc-provider endpoints that still take the full stack, and check the
 * hand-offs (development fallback, suspended tenant) answer as the full stack does.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

const SECURITY_HEADERS = ['x-content-type-options', 'referrer-policy', 'x-frame-options', 'content-security-policy'];

let t: TestAtrium;
let acme: TenantFixture;
before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
});
after(async () => {
  await t?.stop();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const tokenRequest = (issuer: string, authorization: string, headers: Record<string, string> = {}) =>
  httpFetch(`${issuer}/token`, {
    method: 'POST',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: 'grant_type=client_credentials',
  });

describe('provider fast path', () => {
  it('answers with the same outer headers as the full stack', async () => {
    // Fast: OpenID discovery and the JWKS. Full stack: OAuth metadata, served by the same Provider.
    const fast = await httpFetch(`${acme.issuer}/.well-known/openid-configuration`);
    const jwks = await httpFetch(`${acme.issuer}/jwks`);
    const full = await httpFetch(`${acme.issuer}/.well-known/oauth-authorization-server`);
    for (const res of [fast, jwks, full]) assert.equal(res.status, 200);
    for (const name of SECURITY_HEADERS) {
      assert.ok(full.headers.get(name), name);
      assert.equal(fast.headers.get(name), full.headers.get(name), name);
      assert.equal(jwks.headers.get(name), full.headers.get(name), name);
    }
    for (const res of [fast, jwks, full]) assert.match(res.headers.get('x-correlation-id') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(((await fast.json()) as { issuer: string }).issuer, acme.issuer);
  });

  it('echoes a well-formed correlation id and replaces a malformed one, on tokens as well', async () => {
    const good = await tokenRequest(acme.issuer, basic(acme.m2mClientId, acme.m2mClientSecret), { 'x-correlation-id': 'caller-id-1234' });
    assert.equal(good.status, 200);
    assert.equal(good.headers.get('x-correlation-id'), 'caller-id-1234');
    for (const name of SECURITY_HEADERS) assert.ok(good.headers.get(name), name);
    const bad = await tokenRequest(acme.issuer, basic(acme.m2mClientId, acme.m2mClientSecret), { 'x-correlation-id': 'no spaces allowed' });
    assert.match(bad.headers.get('x-correlation-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it("puts the request's correlation id in oidc-provider's own errors", async () => {
    const res = await tokenRequest(acme.issuer, basic(acme.m2mClientId, 'wrong-secret'), { 'x-correlation-id': 'caller-id-5678' });
    assert.equal(res.status, 401);
    const body = (await res.json()) as Record<string, unknown>;
    assert.equal(body.error, 'invalid_client');
    assert.equal(body.correlation_id, 'caller-id-5678');
  });

  it("hands the development fallback to the full stack, which serves the default tenant and says so", async () => {
    // Unknown hosts outside development are a 400 unknown_tenant (tenant-resolution.test.ts).
    const res = await httpFetch(`${t.issuer('no-such-tenant')}/.well-known/openid-configuration`, { headers: { 'x-correlation-id': 'caller-id-9012' } });
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { issuer: string }).issuer, t.issuer('default'));
    assert.equal(res.headers.get('x-correlation-id'), 'caller-id-9012');
    for (const name of SECURITY_HEADERS) assert.ok(res.headers.get(name), name);
    const token = await tokenRequest(t.issuer('no-such-tenant'), basic(acme.m2mClientId, acme.m2mClientSecret));
    assert.equal(token.status, 401, 'acme\'s client is not a client of the default tenant');
  });

  it("never serves one tenant's Provider for another: each issuer signs with its own keys", async () => {
    const globex = await createTenantFixture(t, 'globex');
    const [a, g] = await Promise.all([acme, globex].map(async (f) => (await (await httpFetch(`${f.issuer}/jwks`)).json()) as { keys: { kid: string }[] }));
    const kids = (set: { keys: { kid: string }[] }) => new Set(set.keys.map((k) => k.kid));
    assert.equal([...kids(a!)].filter((k) => kids(g!).has(k)).length, 0);
    // acme's machine client is not a client of globex.
    assert.equal((await tokenRequest(globex.issuer, basic(acme.m2mClientId, acme.m2mClientSecret))).status, 401);
  });

  it("serves discovery and the JWKS again exactly as oidc-provider answered them, CORS per request", async () => {
    for (const path of ['/.well-known/openid-configuration', '/jwks']) {
      const first = await httpFetch(`${acme.issuer}${path}`);
      const again = await httpFetch(`${acme.issuer}${path}`, { headers: { origin: 'https://rp.example.test' } });
      const third = await httpFetch(`${acme.issuer}${path}`);
      assert.equal(first.status, 200);
      assert.equal(await again.text(), await first.text());
      for (const res of [again, third]) {
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), first.headers.get('content-type'));
        assert.equal(res.headers.get('vary'), first.headers.get('vary'));
        for (const name of SECURITY_HEADERS) assert.equal(res.headers.get(name), first.headers.get(name), name);
      }
      assert.equal(first.headers.get('access-control-allow-origin'), '*');
      assert.equal(again.headers.get('access-control-allow-origin'), 'https://rp.example.test', 'the Origin of this request, not of the recorded one');
      assert.equal(third.headers.get('access-control-allow-origin'), '*');
    }
  });

  it("writes discovery endpoints on the tenant's issuer, however the tenant was reached", async () => {
    // Issue 18 changed this: acme reached through the tenant header on the platform host used
    // to get endpoints on that host; they now come from the issuer alone.
    const viaHeader = (await (await httpFetch(`${t.baseUrl}/.well-known/openid-configuration`, { headers: { 'x-tenant-id': 'acme' } })).json()) as Record<string, string>;
    const viaSubdomain = (await (await httpFetch(`${acme.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    assert.equal(viaHeader.issuer, acme.issuer);
    assert.equal(viaSubdomain.token_endpoint, `${acme.issuer}/token`);
    assert.equal(viaHeader.token_endpoint, `${acme.issuer}/token`);
  });

  it("keeps each tenant's recorded documents apart on one origin reached through the tenant header", async () => {
    const hooli = await createTenantFixture(t, 'hooli');
    const get = async (path: string, slug?: string) => {
      const res = await httpFetch(`${t.baseUrl}${path}`, { headers: slug ? { 'x-tenant-id': slug } : {} });
      assert.equal(res.status, 200, `${path} ${slug ?? '(platform)'}`);
      return res.json() as Promise<Record<string, unknown>>;
    };
    // Twice each, interleaved: the second answer of each comes from the recorded document.
    for (let round = 0; round < 2; round++) {
      const [a, h, p] = await Promise.all([get('/.well-known/openid-configuration', 'acme'), get('/.well-known/openid-configuration', 'hooli'), get('/.well-known/openid-configuration')]);
      assert.equal(a.issuer, acme.issuer);
      assert.equal(h.issuer, hooli.issuer);
      assert.equal(p.issuer, t.baseUrl);
      for (const doc of [a, h, p]) assert.equal(doc.token_endpoint, `${String(doc.issuer)}/token`);
      const kids = async (slug?: string) => new Set(((await get('/jwks', slug)).keys as { kid: string }[]).map((k) => k.kid));
      const [ka, kh, kp] = await Promise.all([kids('acme'), kids('hooli'), kids()]);
      for (const [x, y] of [[ka, kh], [ka, kp], [kh, kp]] as const) assert.equal([...x].filter((k) => y.has(k)).length, 0);
    }
    // A slug that names no tenant is not served from anyone's recorded documents, nor (issue 18) by the platform.
    const unknown = await httpFetch(`${t.baseUrl}/.well-known/openid-configuration`, { headers: { 'x-tenant-id': 'no-such-tenant' } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: string }).error, 'unknown_tenant');
  });

  it('publishes new keys at once after a rotation', async () => {
    const kids = async () => ((await (await httpFetch(`${acme.issuer}/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await kids();
    const rotated = await t.api('POST', '/tenants/acme/keys/rotate');
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    const after = await kids();
    const current = (rotated.body.keys as { kid: string; status: string }[]).filter((k) => k.status === 'current').map((k) => k.kid);
    assert.ok(current.length > 0);
    for (const kid of current) assert.ok(after.includes(kid) && !before.includes(kid), kid);
  });

  it('hands suspended tenants to the full stack (403 on tokens and discovery)', async () => {
    const initech = await createTenantFixture(t, 'initech');
    assert.equal((await tokenRequest(initech.issuer, basic(initech.m2mClientId, initech.m2mClientSecret))).status, 200);
    const suspend = await t.api('PATCH', '/tenants/initech', { status: 'suspended' });
    assert.equal(suspend.status, 200, JSON.stringify(suspend.body));
    for (const res of [await httpFetch(`${initech.issuer}/.well-known/openid-configuration`), await tokenRequest(initech.issuer, basic(initech.m2mClientId, initech.m2mClientSecret))]) {
      assert.equal(res.status, 403);
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.error, 'tenant_suspended');
      assert.equal(body.correlation_id, res.headers.get('x-correlation-id'));
    }
  });
});
