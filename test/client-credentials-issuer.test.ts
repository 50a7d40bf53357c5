/**
 * Plain client_credentials requests are answered without the tenant's Provider
 * (src/oidc/client-credentials-issuer.ts); everything else reaches the Provider with its
 * body unread (src/http/peek-body.ts). A caller must not be able to tell which answered.
 *
 * The reference is the tenant's own Provider, served as-is by a second server in this test
 * (its `handle`, in the tenant's request context, nothing in front). Every request in the
 * table goes to both, and the answers must match: status, the Provider's headers, body
 * members in order, and for tokens the JWT header and claims (all but jti, iat and exp,
 * whose lifetime must match).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import * as oidc from 'openid-client';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { customFetchImpl, httpFetch } from './support/http-client.ts';
import { RequestContext, runAsTenant, runWithContext } from '../src/core/request-context.ts';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
let reference: http.Server;
let referencePort: number;
/** acme clients registered for these tests. */
const clients: Record<'scoped' | 'post', { id: string; secret: string }> = {} as never;

before(async () => {
  t = await startTestAtrium();
  [acme, globex] = await Promise.all([createTenantFixture(t, 'acme'), createTenantFixture(t, 'globex')]);
  const register = async (metadata: Record<string, unknown>) => {
    const res = await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], ...metadata });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    return { id: res.body.client_id as string, secret: res.body.client_secret as string };
  };
  clients.scoped = await register({ client_name: 'scoped', scope: 'atrium:tenant:read email' });
  clients.post = await register({ client_name: 'post', token_endpoint_auth_method: 'client_secret_post', scope: 'atrium:tenant:read atrium:tenant:write' });

  const { registry, pool, log } = t.atrium.services;
  reference = http.createServer((req, res) => {
    const slug = (req.headers.host ?? '').split('.')[0]!;
    void (async () => {
      const tenant = (await registry.bySlug(slug === `localhost:${referencePort}` ? '_platforms' : slug))!;
      const context = new RequestContext('reference', log);
      context.enterTenant(tenant);
      await runWithContext(context, async () => (await pool.get(tenant)).handle(req, res));
    })().catch(() => res.writeHead(599).end());
  });
  await new Promise<void>((resolve) => reference.listen(0, '127.0.0.1', resolve));
  referencePort = (reference.address() as net.AddressInfo).port;
});
after(async () => {
  reference?.close();
  await t?.stop();
});

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

interface Case {
  name: string;
  slug?: string;
  headers?: Record<string, string>;
  body: string;
  /** Whether Atrium may answer it without the Provider (checked through the pool's counters). */
  direct: boolean;
}

/** Headers that are not the Provider's: the outer server's (security headers, correlation id) and the connection's. */
const NOT_THE_PROVIDERS = new Set(['date', 'connection', 'keep-alive', 'content-length', 'x-correlation-id', 'x-content-type-options', 'referrer-policy', 'x-frame-options', 'content-security-policy', 'strict-transport-security', 'cross-origin-opener-policy', 'cross-origin-resource-policy', 'permissions-policy']);

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: Record<string, unknown>;
}

async function send(base: string, c: Case): Promise<Answer> {
  const res = await httpFetch(`${base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...c.headers }, body: c.body });
  return { status: res.status, headers: Object.fromEntries([...res.headers].filter(([name]) => !NOT_THE_PROVIDERS.has(name))), body: (await res.json()) as Record<string, unknown> };
}

/** Atrium's answer and the Provider's own, to the same request. */
async function both(c: Case): Promise<{ atrium: Answer; provider: Answer }> {
  const slug = c.slug ?? 'acme';
  const atriumBase = slug === '_platforms' ? t.baseUrl : t.issuer(slug);
  const referenceBase = slug === '_platforms' ? `http://localhost:${referencePort}` : `http://${slug}.localhost:${referencePort}`;
  const { pool } = t.atrium.services;
  const misses = pool.stats.misses;
  // Evicted first: a request the Provider answers shows as a pool miss.
  pool.invalidate((await t.atrium.services.registry.bySlug(slug))!.id);
  const atrium = await send(atriumBase, c);
  assert.equal(pool.stats.misses === misses, c.direct, `${c.name}: ${c.direct ? 'answered by the Provider, expected directly' : 'answered directly, expected by the Provider'}`);
  const provider = await send(referenceBase, c);
  return { atrium, provider };
}

function assertSameAnswer(c: Case, atrium: Answer, provider: Answer): void {
  assert.equal(atrium.status, provider.status, `${c.name}: status (${JSON.stringify(atrium.body)} vs ${JSON.stringify(provider.body)})`);
  // The outer server varies on the tenant header (tenant resolution reads it, issue 18); the
  // rest of Vary, as every other header, must be the Provider's own.
  const { vary, ...atriumHeaders } = atrium.headers;
  const { vary: providerVary, ...providerHeaders } = provider.headers;
  assert.equal(vary, ['x-tenant-id', providerVary].filter(Boolean).join(', '), `${c.name}: Vary`);
  assert.deepEqual(atriumHeaders, providerHeaders, `${c.name}: headers`);
  // Each server's own request id.
  const { correlation_id: _a, ...atriumBody } = atrium.body;
  const { correlation_id: _p, ...providerBody } = provider.body;
  assert.deepEqual(Object.keys(atriumBody), Object.keys(providerBody), `${c.name}: members`);
  if (provider.status !== 200) {
    assert.deepEqual(atriumBody, providerBody, `${c.name}: error`);
    return;
  }
  const { access_token: a, ...aRest } = atriumBody;
  const { access_token: p, ...pRest } = providerBody;
  assert.deepEqual(aRest, pRest, `${c.name}: token response`);
  assert.deepEqual(decodeProtectedHeader(a as string), decodeProtectedHeader(p as string), `${c.name}: JWT header`);
  const ac = decodeJwt(a as string);
  const pc = decodeJwt(p as string);
  assert.deepEqual(Object.keys(ac), Object.keys(pc), `${c.name}: claim names in order`);
  const volatile = ({ jti: _j, iat: _i, exp: _e, ...rest }: Record<string, unknown>) => rest;
  assert.deepEqual(volatile(ac), volatile(pc), `${c.name}: claims`);
  assert.equal(ac.exp! - ac.iat!, pc.exp! - pc.iat!, `${c.name}: lifetime`);
  assert.equal((ac.jti as string).length, (pc.jti as string).length, `${c.name}: jti length`);
  assert.ok(Math.abs(ac.iat! - Date.now() / 1000) < 5);
}

function cases(): Case[] {
  const m2m = { id: acme.m2mClientId, secret: acme.m2mClientSecret };
  const grant = { grant_type: 'client_credentials' };
  return [
    // Answered directly.
    { name: 'basic, no scope', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form(grant), direct: true },
    { name: 'basic, registered scope', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, scope: 'atrium:tenant:read' }), direct: true },
    { name: 'basic, scopes the API does not know are dropped', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, scope: 'atrium:tenant:read email made-up atrium:tenant:read' }), direct: true },
    { name: 'a client without registered scopes asks for some: none granted', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, scope: 'openid offline_access atrium:tenant:read' }), direct: true },
    { name: 'basic, client_id repeated in the body', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, client_id: clients.scoped.id }), direct: true },
    { name: 'basic, the API named as resource', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, resource: `${t.baseUrl}/api/v1` }), direct: true },
    { name: 'client_secret_post', body: form({ ...grant, client_id: clients.post.id, client_secret: clients.post.secret, scope: 'atrium:tenant:write atrium:tenant:read' }), direct: true },
    // oidc-provider lets a client with a secret present it either way, whatever it registered.
    { name: 'basic for a client_secret_post client', headers: { authorization: basic(clients.post.id, clients.post.secret) }, body: form(grant), direct: true },
    { name: 'the secret in the body for a client_secret_basic client', body: form({ ...grant, client_id: m2m.id, client_secret: m2m.secret }), direct: true },
    { name: 'charset=utf-8', headers: { authorization: basic(m2m.id, m2m.secret), 'content-type': 'application/x-www-form-urlencoded; charset=UTF-8' }, body: form(grant), direct: true },
    { name: 'platform tenant, platform scopes', slug: '_platforms', headers: { authorization: basic(BOOTSTRAP_CLIENT_ID, BOOTSTRAP_CLIENT_SECRET) }, body: form({ ...grant, scope: 'atrium:tenants:read atrium:cross-tenant:read' }), direct: true },
    // Left to the Provider: errors, and what only it does.
    { name: 'wrong secret', headers: { authorization: basic(m2m.id, 'wrong') }, body: form(grant), direct: false },
    { name: 'unknown client', headers: { authorization: basic('no-such-client', m2m.secret) }, body: form(grant), direct: false },
    { name: "another tenant's client", slug: 'globex', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form(grant), direct: false },
    { name: 'client not registered for client_credentials', headers: { authorization: basic(acme.clientId, acme.clientSecret) }, body: form(grant), direct: false },
    { name: 'scope the client did not register', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, scope: 'atrium:tenant:write' }), direct: false },
    { name: 'OIDC scope the client did not register', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, scope: 'profile' }), direct: false },
    { name: 'openid, which the client did not register', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ ...grant, scope: 'openid atrium:tenant:read' }), direct: false },
    { name: 'malformed scope', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, scope: 'a\\b' }), direct: false },
    { name: 'another resource', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, resource: 'https://elsewhere.example/api' }), direct: false },
    { name: 'repeated parameter', headers: { authorization: basic(m2m.id, m2m.secret) }, body: `${form(grant)}&grant_type=client_credentials`, direct: false },
    { name: 'two authentication methods', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, client_id: m2m.id, client_secret: m2m.secret }), direct: false },
    { name: 'client_id mismatch', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, client_id: clients.scoped.id }), direct: false },
    { name: 'malformed basic header', headers: { authorization: 'Basic !!!' }, body: form(grant), direct: false },
    { name: 'no authentication', body: form({ ...grant, client_id: m2m.id }), direct: false },
    { name: 'a public client', body: form({ ...grant, client_id: acme.publicClientId, client_secret: 'anything' }), direct: false },
    { name: 'the secret in the body, wrong', body: form({ ...grant, client_id: m2m.id, client_secret: 'wrong' }), direct: false },
    { name: 'unknown parameter', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ ...grant, audience: 'x' }), direct: false },
    { name: 'another grant type', headers: { authorization: basic(m2m.id, m2m.secret) }, body: form({ grant_type: 'refresh_token', refresh_token: 'x' }), direct: false },
    { name: 'not a form', headers: { authorization: basic(m2m.id, m2m.secret), 'content-type': 'application/json' }, body: JSON.stringify(grant), direct: false },
    { name: 'CORS request', headers: { authorization: basic(m2m.id, m2m.secret), origin: 'https://rp.example.test' }, body: form(grant), direct: false },
    { name: 'DPoP proof', headers: { authorization: basic(m2m.id, m2m.secret), dpop: 'not-a-proof' }, body: form(grant), direct: false },
  ];
}

describe('client_credentials without the Provider', () => {
  it('answers every request in the table as the tenant\'s Provider does, directly only when plain and valid', async () => {
    for (const c of cases()) {
      const { atrium, provider } = await both(c);
      assertSameAnswer(c, atrium, provider);
    }
  });

  it('serves openid-client\'s client_credentials grant directly, with either secret method', async () => {
    const { pool, registry } = t.atrium.services;
    const { id, secret } = clients.scoped;
    const configured = (auth: oidc.ClientAuth) => oidc.discovery(new URL(acme.issuer), id, secret, auth, { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: customFetchImpl as never });
    const configurations = [await configured(oidc.ClientSecretPost(secret)), await configured(oidc.ClientSecretBasic(secret))];
    // Discovery may have needed the Provider (once per origin); the grants must not.
    pool.invalidate((await registry.bySlug('acme'))!.id);
    const misses = pool.stats.misses;
    for (const configuration of configurations) {
      const tokens = await oidc.clientCredentialsGrant(configuration, { scope: 'atrium:tenant:read' });
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.scope, 'atrium:tenant:read');
      assert.equal(tokens.expires_in, 3600);
    }
    assert.equal(pool.stats.misses, misses, 'no Provider was needed');
  });

  it('issues tokens that verify with the tenant\'s published keys and open the management API', async () => {
    const res = await httpFetch(`${acme.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(clients.scoped.id, clients.scoped.secret), 'content-type': 'application/x-www-form-urlencoded' },
      body: form({ grant_type: 'client_credentials', scope: 'atrium:tenant:read' }),
    });
    assert.equal(res.status, 200);
    const { access_token } = (await res.json()) as { access_token: string };
    const jwks = (await (await httpFetch(`${acme.issuer}/jwks`)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(access_token, createLocalJWKSet(jwks), { issuer: acme.issuer, audience: `${t.baseUrl}/api/v1`, typ: 'at+jwt' });
    assert.equal(payload.sub, clients.scoped.id);
    const own = await httpFetch(`${t.baseUrl}/api/v1/tenants/acme`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.equal(own.status, 200);
    const other = await httpFetch(`${t.baseUrl}/api/v1/tenants/globex`, { headers: { authorization: `Bearer ${access_token}` } });
    assert.notEqual(other.status, 200, "acme's token must not open globex");
    // Globex's keys do not verify it.
    const globexJwks = (await (await httpFetch(`${globex.issuer}/jwks`)).json()) as JSONWebKeySet;
    await assert.rejects(jwtVerify(access_token, createLocalJWKSet(globexJwks)));
  });

  it('signs with the key the Provider would after a rotation, and follows a new secret at once', async () => {
    const rotated = await t.api('POST', '/tenants/acme/keys/rotate');
    assert.ok(rotated.status === 200 || rotated.status === 201, JSON.stringify(rotated.body));
    const c: Case = { name: 'after rotation', headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) }, body: form({ grant_type: 'client_credentials' }), direct: true };
    const { atrium, provider } = await both(c);
    assertSameAnswer(c, atrium, provider);

    const tenant = (await t.atrium.services.registry.bySlug('acme'))!;
    const renewed = await runAsTenant(tenant.id, () => t.atrium.services.clientService.rotateSecret(tenant, clients.scoped.id));
    const old = await send(acme.issuer, c);
    assert.equal(old.status, 401, 'the old secret is refused');
    clients.scoped.secret = renewed.secret;
    assert.equal((await send(acme.issuer, { ...c, headers: { authorization: basic(clients.scoped.id, clients.scoped.secret) } })).status, 200);
  });

  it('reads a body that arrives in pieces, and hands one it did not take to the Provider whole', async () => {
    const post = (authorization: string, body: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request({ host: '127.0.0.1', port: t.port, path: '/token', method: 'POST', headers: { host: `acme.localhost:${t.port}`, authorization, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk)).on('end', () => resolve({ status: res.statusCode!, body: text }));
        });
        req.on('error', reject);
        req.write(body.slice(0, 7));
        req.flushHeaders();
        setTimeout(() => req.end(body.slice(7)), 50);
      });
    const ok = await post(basic(acme.m2mClientId, acme.m2mClientSecret), form({ grant_type: 'client_credentials' }));
    assert.equal(ok.status, 200, ok.body);
    const refused = await post(basic(acme.m2mClientId, 'wrong'), form({ grant_type: 'client_credentials' }));
    assert.equal(refused.status, 401, refused.body);
    assert.equal(JSON.parse(refused.body).error, 'invalid_client');
    // A body sent chunked (no length) is not read here at all.
    const chunked = await httpFetch(`${acme.issuer}/token`, {
      method: 'POST',
      headers: { authorization: basic(acme.m2mClientId, acme.m2mClientSecret), 'content-type': 'application/x-www-form-urlencoded' },
      body: new ReadableStream({ start: (ctl) => (ctl.enqueue(new TextEncoder().encode('grant_type=client_credentials')), ctl.close()) }),
      duplex: 'half',
    });
    assert.equal(chunked.status, 200);
  });
});
