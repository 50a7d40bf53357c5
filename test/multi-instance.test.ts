/**
 * Two Atrium processes on one PostgreSQL and one Redis: what one instance changes, the
 * other acts on within a second.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createDeployment, type AtriumProcess, type Deployment } from './support/atrium-process.ts';
import { PrivateRedis } from './support/faults.ts';

const enabled = Boolean(process.env.DATABASE_URL && process.env.REDIS_URL);

async function eventually<T>(what: string, probe: () => Promise<T>, ok: (v: T) => boolean, withinMs: number): Promise<number> {
  const started = performance.now();
  let last: T | undefined;
  while (performance.now() - started < withinMs) {
    last = await probe();
    if (ok(last)) return performance.now() - started;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what} did not happen within ${withinMs} ms (last: ${JSON.stringify(last)?.slice(0, 300)})`);
}

describe('two instances, one truth', { skip: enabled ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  let d: Deployment;
  let a: AtriumProcess;
  let b: AtriumProcess;
  let token: string;
  const api = (instance: AtriumProcess, method: string, path: string, body?: unknown) =>
    instance.request(d.host(), `/api/v1${path}`, { method, headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });

  before(async () => {
    d = await createDeployment();
    [a, b] = await Promise.all([d.start(), d.start()]);
    token = await d.platformToken(a);
    assert.equal((await api(a, 'POST', '/tenants', { slug: 'acme', name: 'Acme' })).status, 201);
  });
  after(() => d?.drop());

  it('a key rotation through A changes B\'s JWKS within a second', async () => {
    const jwks = async (i: AtriumProcess) => ((await i.request(d.host('acme'), '/jwks')).json as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    const before = await jwks(b); // B has the tenant pooled
    const rotated = await api(a, 'POST', '/tenants/acme/keys/rotate');
    assert.equal(rotated.status, 200);
    const current = (rotated.json.keys as { kid: string; status: string }[]).filter((k) => k.status === 'current').map((k) => k.kid);
    const ms = await eventually('B publishing the new keys', () => jwks(b), (kids) => current.every((k) => kids.includes(k)) && before.every((k) => kids.includes(k)), 1000);
    assert.ok(ms < 1000);
  });

  it('a suspension through A stops the tenant on B within a second', async () => {
    assert.equal((await b.request(d.host('acme'), '/.well-known/openid-configuration')).status, 200);
    assert.equal((await api(a, 'PATCH', '/tenants/acme', { status: 'suspended' })).status, 200);
    await eventually('B refusing the suspended tenant', async () => (await b.request(d.host('acme'), '/.well-known/openid-configuration')).status, (s) => s === 403, 1000);
    assert.equal((await api(a, 'PATCH', '/tenants/acme', { status: 'active' })).status, 200);
    await eventually('B serving the tenant again', async () => (await b.request(d.host('acme'), '/.well-known/openid-configuration')).status, (s) => s === 200, 1000);
  });

  it('a client deleted through A is refused by B within a second', async () => {
    const created = await api(a, 'POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    assert.equal(created.status, 201);
    const basic = `Basic ${Buffer.from(`${created.json.client_id}:${created.json.client_secret}`).toString('base64')}`;
    const tokenAt = (i: AtriumProcess) => i.request(d.host('acme'), '/token', { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    await eventually('B knowing the new client', async () => (await tokenAt(b)).status, (s) => s === 200, 1000);
    assert.equal((await api(a, 'DELETE', `/tenants/acme/clients/${created.json.client_id}`)).status, 204);
    await eventually('B refusing the deleted client', async () => (await tokenAt(b)).status, (s) => s === 401, 1000);
  });

  it("a configuration change through A governs B's next token within a second", async () => {
    const created = await api(a, 'POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    assert.equal(created.status, 201);
    const basic = `Basic ${Buffer.from(`${created.json.client_id}:${created.json.client_secret}`).toString('base64')}`;
    const lifetimeAtB = async () => {
      const res = await b.request(d.host('acme'), '/token', { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
      return res.json?.expires_in as number | undefined;
    };
    await eventually('B issuing tokens for the new client', lifetimeAtB, (ttl) => ttl === 3600, 1000);
    const put = await api(a, 'PUT', '/tenants/acme/config/oidc', { access_token_ttl: 600 });
    assert.equal(put.status, 200, put.text);
    await eventually('B issuing tokens with the new lifetime', lifetimeAtB, (ttl) => ttl === 600, 1000);
  });

  it("a platform client revoked through A ends its tokens on B within a second", async () => {
    const created = await api(a, 'POST', '/tenants/_platforms/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'atrium:tenants:read' });
    assert.equal(created.status, 201, created.text);
    const res = await a.request(d.host(), '/token', {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${created.json.client_id}:${created.json.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials&scope=atrium%3Atenants%3Aread',
    });
    const revocable = res.json.access_token as string;
    const listAtB = async () => (await b.request(d.host(), '/api/v1/tenants', { headers: { authorization: `Bearer ${revocable}` } })).status;
    assert.equal(await listAtB(), 200, 'B accepts the token (and caches the platform tenant and client)');
    assert.equal((await api(a, 'DELETE', `/tenants/_platforms/clients/${created.json.client_id}`)).status, 204);
    await eventually('B refusing the revoked client', listAtB, (s) => s === 401, 1000);
  });

  it('a tenant renamed through A shows on B within a second', async () => {
    assert.equal((await api(a, 'PATCH', '/tenants/acme', { name: 'Acme Renamed' })).status, 200);
    await eventually('B reading the new name', async () => (await api(b, 'GET', '/tenants/acme')).json?.name, (n) => n === 'Acme Renamed', 1000);
  });

  it("a tenant listed through A is in B's tenant picker at its next request, and gone when unlisted", async () => {
    // The picker caches nothing (federation/tenant-picker.ts): B's very next request sees the change.
    const listed = async () => ((await b.request(d.host(), '/tenants', { headers: { accept: 'application/json' } })).json.tenants as { slug: string }[]).map((e) => e.slug);
    assert.deepEqual(await listed(), []);
    assert.equal((await api(a, 'PUT', '/tenants/acme/config/features', { tenant_picker: true })).status, 200);
    assert.deepEqual(await listed(), ['acme']);
    assert.equal((await api(a, 'PUT', '/tenants/acme/config/features', { tenant_picker: false })).status, 200);
    assert.deepEqual(await listed(), []);
  });
});

describe('two instances with pub/sub interrupted', { skip: enabled ? false : 'needs DATABASE_URL and REDIS_URL' }, () => {
  let redis: PrivateRedis;
  let d: Deployment;
  let a: AtriumProcess;
  let b: AtriumProcess;
  let token: string;
  before(async () => {
    redis = await PrivateRedis.start();
    d = await createDeployment({ REDIS_URL: redis.url });
    [a, b] = await Promise.all([d.start(), d.start()]);
    token = await d.platformToken(a);
    const created = await a.request(d.host(), '/api/v1/tenants', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ slug: 'acme', name: 'Acme' }) });
    assert.equal(created.status, 201);
  });
  after(async () => {
    await d?.drop();
    await redis?.kill();
  });

  it('the version check still brings B up to date within its period when the event is lost', async () => {
    const jwks = async (i: AtriumProcess) => ((await i.request(d.host('acme'), '/jwks')).json as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    await jwks(b); // B has the tenant pooled
    await redis.kill(); // nobody hears the next event
    const rotated = await a.request(d.host(), '/api/v1/tenants/acme/keys/rotate', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(rotated.status, 200);
    const current = (rotated.json.keys as { kid: string; status: string }[]).filter((k) => k.status === 'current').map((k) => k.kid);
    // The tenant cache lives 3 s; one refresh after that carries the new version.
    const ms = await eventually('B converging without the event', () => jwks(b), (kids) => current.every((k) => kids.includes(k)), 8000);
    assert.ok(ms < 8000);
  });
});
