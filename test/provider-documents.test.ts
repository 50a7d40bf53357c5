/**
 * Discovery and JWKS are served without building the tenant's Provider
 * (src/oidc/provider-documents.ts), and must be exactly what that Provider serves.
 *
 * The reference is each tenant's own Provider, served as-is by a second server in this
 * test (its `handle`, in the tenant's request context, nothing in front), as in
 * client-credentials-issuer.test.ts. Tenants come in pairs of the same configuration: the
 * first one's discovery is answered by its Provider (which teaches the configuration's
 * document), the second one's is worked out from it, without a Provider build. Both, and
 * every JWKS, must equal the reference byte for byte. Configurations that change discovery
 * (grants switched off, published service URLs, the platform tenant's API scopes, a key
 * rotation) each get their own pair.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { httpFetch } from './support/http-client.ts';
import { RequestContext, runWithContext } from '../src/core/request-context.ts';
import type { Tenant } from '../src/tenancy/tenant.ts';

let t: TestAtrium;
let reference: http.Server;
let referencePort: number;
/** The tenant the reference server answers for next (by slug). */
const PLATFORM = '_platforms';

before(async () => {
  t = await startTestAtrium();
  const { registry, pool, log } = t.atrium.services;
  reference = http.createServer((req, res) => {
    const slug = (req.headers.host ?? '').split('.')[0]!;
    void (async () => {
      const tenant = (await registry.bySlug(slug === `localhost:${referencePort}` ? PLATFORM : slug))!;
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

const DISCOVERY = '/.well-known/openid-configuration';

async function createTenant(slug: string, oidcConfig?: Record<string, unknown>): Promise<void> {
  const res = await t.api('POST', '/tenants', { slug, name: slug });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  if (oidcConfig) {
    const put = await t.api('PUT', `/tenants/${slug}/config/oidc`, oidcConfig);
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
}

/** Issuer of a tenant on Atrium; the platform tenant's is PUBLIC_URL. */
const issuerOf = (slug: string) => (slug === PLATFORM ? t.baseUrl : t.issuer(slug));

/** The reference Provider's answer, asked under the tenant's issuer host. */
async function fromProvider(slug: string, path: string): Promise<{ body: string; type: string | null }> {
  const host = slug === PLATFORM ? `localhost:${referencePort}` : `${slug}.localhost:${referencePort}`;
  const res = await fetchHost(host, path);
  assert.equal(res.status, 200);
  return res;
}

async function fetchHost(host: string, path: string): Promise<{ status: number; body: string; type: string | null }> {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: referencePort, path, headers: { host } }, resolve).on('error', reject));
  let body = '';
  for await (const chunk of res) body += String(chunk);
  return { status: res.statusCode ?? 0, body, type: res.headers['content-type'] ?? null };
}

async function fromAtrium(slug: string, path: string): Promise<{ body: string; type: string | null }> {
  const res = await httpFetch(`${issuerOf(slug)}${path}`);
  assert.equal(res.status, 200);
  return { body: await res.text(), type: res.headers.get('content-type') };
}

/** Atrium's answer, and how many Providers were built while it was worked out. */
async function served(slug: string, path: string) {
  const before = t.atrium.services.pool.stats.misses;
  const answer = await fromAtrium(slug, path);
  return { ...answer, builds: t.atrium.services.pool.stats.misses - before };
}

async function expectSameAsProvider(slug: string, path: string, expectedBuilds: number): Promise<void> {
  const atrium = await served(slug, path);
  const provider = await fromProvider(slug, path);
  assert.equal(atrium.body, provider.body, `${slug} ${path}: Atrium's document differs from its Provider's`);
  assert.equal(atrium.type, provider.type, `${slug} ${path}: content type`);
  assert.equal(atrium.builds, expectedBuilds, `${slug} ${path}: Providers built`);
}

/** Drops these tenants' pooled Providers (their creation may have built them), so a build would show in the counter. */
async function emptyPool(slugs: string[]): Promise<void> {
  for (const slug of slugs) {
    const tenant: Tenant | undefined = await t.atrium.services.registry.bySlug(slug);
    if (tenant) t.atrium.services.pool.invalidate(tenant.id);
  }
}

describe('discovery and JWKS without a Provider', () => {
  const configurations: { name: string; slugs: [string, string]; oidc?: Record<string, unknown> }[] = [
    { name: 'defaults', slugs: ['acme', 'globex'] },
    { name: 'no refresh tokens, no client credentials', slugs: ['narrow-a', 'narrow-b'], oidc: { enabled_grants: ['authorization_code'] } },
    { name: 'published service URLs', slugs: ['docs-a', 'docs-b'], oidc: { service_documentation: 'https://docs.example.test/idp', op_policy_uri: 'https://docs.example.test/policy' } },
  ];

  for (const c of configurations) {
    it(`${c.name}: the first tenant's Provider teaches, the second is served without one, both as their Provider serves`, async () => {
      for (const slug of c.slugs) await createTenant(slug, c.oidc);
      await emptyPool(c.slugs);
      const [first, second] = c.slugs;
      // The JWKS never needs a Provider.
      await expectSameAsProvider(first, '/jwks', 0);
      await expectSameAsProvider(second, '/jwks', 0);
      // The first discovery of a configuration: a build, unless an earlier tenant taught it.
      const firstDiscovery = await served(first, DISCOVERY);
      assert.equal(firstDiscovery.body, (await fromProvider(first, DISCOVERY)).body);
      assert.ok(firstDiscovery.builds <= 1);
      await expectSameAsProvider(second, DISCOVERY, 0);
    });
  }

  it('a tenant whose configuration differs is not served another configuration\'s document', async () => {
    // acme (defaults) taught the default document above; narrow-a's differs, and was served its own.
    const defaults = JSON.parse((await fromAtrium('acme', DISCOVERY)).body) as Record<string, unknown>;
    const narrow = JSON.parse((await fromAtrium('narrow-a', DISCOVERY)).body) as Record<string, unknown>;
    assert.notDeepEqual(narrow.grant_types_supported, defaults.grant_types_supported);
    const docs = JSON.parse((await fromAtrium('docs-b', DISCOVERY)).body) as Record<string, unknown>;
    assert.equal(docs.service_documentation, 'https://docs.example.test/idp');
    assert.equal(defaults.service_documentation, undefined);
  });

  it('the platform tenant (its API scopes) and a key rotation', async () => {
    await expectSameAsProvider(PLATFORM, '/jwks', 0);
    const platform = await served(PLATFORM, DISCOVERY);
    assert.equal(platform.body, (await fromProvider(PLATFORM, DISCOVERY)).body);

    const rotated = await t.api('POST', '/tenants/globex/keys/rotate');
    assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const jwks = await served('globex', '/jwks');
    assert.equal(jwks.body, (await fromProvider('globex', '/jwks')).body);
    assert.equal(jwks.builds, 0);
    assert.equal((JSON.parse(jwks.body) as { keys: unknown[] }).keys.length, 4, 'the new pair and the retired one');
    await expectSameAsProvider('globex', DISCOVERY, 0);
  });

  it('a setting naming the tenant\'s own host is not carried to another tenant\'s host', async () => {
    const naming = { op_policy_uri: `${t.issuer('self-a')}/policy` };
    await createTenant('self-a', naming);
    await createTenant('self-b', naming);
    assert.equal((await fromAtrium('self-a', DISCOVERY)).body, (await fromProvider('self-a', DISCOVERY)).body);
    const b = JSON.parse((await fromAtrium('self-b', DISCOVERY)).body) as Record<string, unknown>;
    assert.equal(b.op_policy_uri, `${t.issuer('self-a')}/policy`, "self-a's URL stays self-a's");
    assert.equal((await fromAtrium('self-b', DISCOVERY)).body, (await fromProvider('self-b', DISCOVERY)).body);
  });
});
