/**
 * The management API's OpenAPI contract (issue 17, item 1): it is a valid OpenAPI 3.1
 * document by a maintained validator; it lists exactly the routes the router mounts; each
 * operation's documented scope is the one the route enforces; the reference page shows it
 * without scripts; and the response check the API tests run (support/api-contract.ts)
 * catches an answer that departs from it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { Validator } from '@seriousme/openapi-schema-validator';
import { managementApi } from '../src/app.ts';
import { PLATFORM_SCOPES } from '../src/oidc/api-resource.ts';
import { ALL_PLATFORM_SCOPES, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { ApiContract } from './support/api-contract.ts';
import { createTenantFixture, discover } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

type Json = Record<string, any>;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const SLUG = 'contracted';

let t: TestAtrium;
let document: Json;
before(async () => {
  t = await startTestAtrium();
  await createTenantFixture(t, SLUG);
  const res = await httpFetch(`${t.baseUrl}/api/v1/openapi.json`);
  assert.equal(res.status, 200);
  document = (await res.json()) as Json;
});
after(() => t?.stop());

/** Every documented operation as `METHOD /path`, with its operation object. */
function operations(): { key: string; path: string; method: string; op: Json }[] {
  return Object.entries(document.paths as Record<string, Json>).flatMap(([path, methods]) =>
    Object.entries(methods).filter(([m]) => METHODS.includes(m)).map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, path, method, op: op as Json })));
}

/** A concrete path for a template: the test tenant's slug, filler for the rest (the scope check comes first). */
const concrete = (path: string) => path.replace('{slug}', SLUG).replace(/\{[^}]+\}/g, 'x');

describe('the OpenAPI document', () => {
  it('is served to anyone, without a token, as OpenAPI 3.1', async () => {
    assert.equal(document.openapi.startsWith('3.1'), true);
    assert.equal(document.servers[0].url, `${t.baseUrl}/api/v1`);
    assert.equal(document.components.securitySchemes.platformOAuth.flows.clientCredentials.tokenUrl, `${t.baseUrl}/token`);
    assert.deepEqual(Object.keys(document.components.securitySchemes.platformOAuth.flows.clientCredentials.scopes).sort(), [...PLATFORM_SCOPES].sort());
    assert.equal(document.components.securitySchemes.bearer.scheme, 'bearer');
  });

  it('validates with a maintained OpenAPI 3.1 validator (@seriousme/openapi-schema-validator)', async () => {
    const validator = new Validator();
    const result = await validator.validate(structuredClone(document));
    assert.equal(result.valid, true, JSON.stringify(result.errors, null, 2));
    assert.equal(validator.version, '3.1');
  });

  it('has every route the router mounts under /api/v1, and nothing the router does not mount', () => {
    const { router } = managementApi(t.atrium.services);
    const mounted = new Set(router.stack.flatMap((layer) => layer.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(layer.path).replace(/^\/api\/v1/, '').replace(/:([A-Za-z_]\w*)/g, '{$1}')}`)));
    const documented = new Set(operations().map((o) => o.key));
    assert.ok(mounted.size > 50, `the router lists ${mounted.size} routes`);
    assert.deepEqual([...mounted].filter((r) => !documented.has(r)).sort(), [], 'mounted but not documented');
    assert.deepEqual([...documented].filter((r) => !mounted.has(r)).sort(), [], 'documented but not mounted');
    console.log(`openapi: ${documented.size} operations on ${Object.keys(document.paths).length} paths`);
  });

  it('names for each operation its scopes and security, and gives every operation an error shape', () => {
    for (const { key, op } of operations()) {
      const scopes = op['x-atrium-scopes'];
      assert.ok(typeof op.operationId === 'string' && op.summary, `${key} has an operationId and summary`);
      assert.ok(op.responses.default?.content['application/json'].schema.$ref === '#/components/schemas/Error', `${key} documents the error shape`);
      if (scopes.platform === null) {
        assert.deepEqual(op.security, [], `${key} is public`);
        continue;
      }
      assert.deepEqual(op.security[0], { platformOAuth: [scopes.platform] }, key);
      if (scopes.tenant) assert.deepEqual(op.security.at(-1), { bearer: [scopes.tenant] }, key);
    }
  });
});

describe('the documented scopes are the ones the routes enforce', () => {
  it('refuses each operation with 403 naming its scope to a platform token holding every scope but that one', async () => {
    let checked = 0;
    for (const { key, path, method, op } of operations()) {
      const scope = op['x-atrium-scopes'].platform as string | null;
      if (!scope) continue;
      const token = await t.platformToken(ALL_PLATFORM_SCOPES.split(' ').filter((s) => s !== scope).join(' '));
      const res = await t.api(method.toUpperCase(), concrete(path), op.requestBody ? {} : undefined, token);
      assert.equal(res.status, 403, `${key}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error_description.includes(scope), `${key} names ${scope}: ${res.body.error_description}`);
      checked++;
    }
    assert.ok(checked > 50);
  });

  it('lets a tenant\'s own token through only where a tenant scope is documented, and only with that scope', async () => {
    const tokenWith = async (scope: string) => {
      const client = await t.api('POST', `/tenants/${SLUG}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope });
      assert.equal(client.status, 201, JSON.stringify(client.body));
      const config = await discover(t.issuer(SLUG), client.body.client_id, client.body.client_secret);
      return (await oidc.clientCredentialsGrant(config, { scope })).access_token;
    };
    const readOnly = await tokenWith('atrium:tenant:read');
    const writeOnly = await tokenWith('atrium:tenant:write');
    const both = await tokenWith('atrium:tenant:read atrium:tenant:write');
    for (const { key, path, method, op } of operations()) {
      const { platform, tenant } = op['x-atrium-scopes'] as { platform: string | null; tenant: string | null };
      if (!platform) continue;
      const body = op.requestBody ? {} : undefined;
      if (!tenant) {
        const res = await t.api(method.toUpperCase(), concrete(path), body, both);
        assert.equal(res.status, 403, `${key} is not a tenant token's: ${JSON.stringify(res.body)}`);
        continue;
      }
      const lacking = tenant === 'atrium:tenant:read' ? writeOnly : readOnly;
      const res = await t.api(method.toUpperCase(), concrete(path), body, lacking);
      assert.equal(res.status, 403, `${key} without ${tenant}: ${JSON.stringify(res.body)}`);
      assert.ok(res.body.error_description.includes(tenant), `${key} names ${tenant}`);
    }
  });
});

describe('the reference page', () => {
  it('lists every operation with its scopes, and carries no script', async () => {
    const res = await httpFetch(`${t.baseUrl}/api/v1/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self'/);
    const html = await res.text();
    assert.doesNotMatch(html, /<script/i);
    for (const { op } of operations()) assert.ok(html.includes(`id="${op.operationId}"`), `the page has ${op.operationId}`);
    assert.ok(html.includes('atrium:cross-tenant:write'));
    assert.ok(html.includes('id="schema-Tenant"'));
    const css = await httpFetch(`${t.baseUrl}/assets/api-docs.css`);
    assert.equal(css.status, 200);
  });
});

describe('the response check the API tests run', () => {
  it('passes a real answer and fails one that departs from the documented schema or status', async () => {
    const contract = new ApiContract(document);
    const tenant = await t.api('GET', `/tenants/${SLUG}`);
    assert.equal(tenant.status, 200);
    const type = 'application/json; charset=utf-8';
    assert.equal(contract.problem('GET', `/tenants/${SLUG}`, 200, type, tenant.body), undefined);
    const { slug: _dropped, ...withoutSlug } = tenant.body;
    assert.match(contract.problem('GET', `/tenants/${SLUG}`, 200, type, withoutSlug) ?? '', /must have required property 'slug'/);
    assert.match(contract.problem('GET', `/tenants/${SLUG}`, 200, type, { ...tenant.body, secret: 'x' }) ?? '', /additional properties \(secret\)/);
    assert.match(contract.problem('GET', `/tenants/${SLUG}`, 201, type, tenant.body) ?? '', /status 201 is not documented/);
    assert.match(contract.problem('DELETE', `/tenants/${SLUG}`, 204, null, { unexpected: true }) ?? '', /without a body/);
    assert.match(contract.problem('GET', `/tenants/${SLUG}`, 404, type, { error: 'not_found' }) ?? '', /error_description/);
    // The most literal template wins, as in the router: /platform/webhooks/deliveries is not /platform/webhooks/{id}.
    assert.equal(contract.operation('GET', '/platform/webhooks/deliveries?limit=5')?.template, '/platform/webhooks/deliveries');
  });
});
