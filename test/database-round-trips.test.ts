/**
 * Database round trips per request, counted (not timed): every transaction a request runs
 * is observed by the `atrium_db_transactions_per_request` histogram (storage/database.ts
 * counts them on the request's context). A change that adds a query to a hot path fails
 * here, whatever the machine's speed.
 *
 * A "round trip" here is one transaction: its BEGIN, context statement, queries and COMMIT
 * travel together on one connection. Through PgBouncer in transaction mode, a transaction
 * is also the unit a server connection is held for.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, discover, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';

let t: TestAtrium;
let acme: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
});
after(() => t?.stop());

/** The histogram's running sum and count for a route class. */
async function transactions(routeClass: string): Promise<{ sum: number; count: number }> {
  const text = await t.atrium.services.metrics.text();
  const read = (suffix: string) => Number(new RegExp(`^atrium_db_transactions_per_request_${suffix}\\{route_class="${routeClass}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

/** Mean transactions per request of `routeClass` over `n` runs of `request`. */
async function perRequest(routeClass: string, n: number, request: () => Promise<unknown>): Promise<number> {
  const before = await transactions(routeClass);
  for (let i = 0; i < n; i++) await request();
  const after = await transactions(routeClass);
  assert.equal(after.count - before.count, n, `${n} requests of class ${routeClass} observed`);
  return (after.sum - before.sum) / n;
}

async function refreshToken(scope = 'openid email offline_access'): Promise<{ config: oidc.Configuration; token: string }> {
  const request = await authorizationRequest(acme.issuer, acme, { scope, prompt: 'consent' });
  const { callback } = await signInThroughPages(request.url, acme);
  const tokens = await oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
  assert.ok(tokens.refresh_token);
  return { config: request.config, token: tokens.refresh_token };
}

describe('database round trips per request', () => {
  it('discovery and JWKS of a cached tenant touch no database', async () => {
    const discovery = () => httpFetch(`${acme.issuer}/.well-known/openid-configuration`).then((r) => r.text());
    const jwks = () => httpFetch(`${acme.issuer}/jwks`).then((r) => r.text());
    await discovery(); // the tenant and its Provider are now cached
    await jwks();
    assert.equal(await perRequest('oidc-discovery', 10, discovery), 0);
    assert.equal(await perRequest('oidc-other', 10, jwks), 0);
  });

  it("a tenant's first discovery reads its record and its keys, nothing more, and builds no Provider; its JWKS then reads nothing", async () => {
    // acme's discovery (above) taught the default configuration's document (oidc/provider-documents.ts).
    const created = await t.api('POST', '/tenants', { slug: 'fresh', name: 'Fresh' });
    assert.equal(created.status, 201);
    const fresh = (await t.atrium.services.registry.bySlug('fresh'))!;
    t.atrium.services.pool.invalidate(fresh.id);
    t.atrium.services.registry.forget(fresh.id, fresh.slug);
    const builds = t.atrium.services.pool.stats.misses;
    const issuer = t.issuer('fresh');
    assert.ok((await perRequest('oidc-discovery', 1, () => httpFetch(`${issuer}/.well-known/openid-configuration`).then((r) => r.text()))) <= 2);
    assert.equal(await perRequest('oidc-other', 1, () => httpFetch(`${issuer}/jwks`).then((r) => r.text())), 0);
    assert.equal(t.atrium.services.pool.stats.misses, builds, 'no Provider was built');
  });

  it('a refresh grant runs at most two transactions', async () => {
    const start = await refreshToken();
    const { config } = start;
    let { token } = start;
    const refresh = async () => {
      const tokens = await oidc.refreshTokenGrant(config, token);
      token = tokens.refresh_token!;
    };
    await refresh(); // warm: the client is cached from here on
    const mean = await perRequest('oidc-token', 5, refresh);
    assert.ok(mean <= 2, `a refresh grant ran ${mean} transactions`);
  });

  it('a refresh grant with the roles claim runs no more: the roles come from the account read with the token', async () => {
    const start = await refreshToken('openid email offline_access roles');
    const { config } = start;
    let { token } = start;
    const refresh = async () => {
      const tokens = await oidc.refreshTokenGrant(config, token);
      assert.ok(Array.isArray(tokens.claims()?.roles), 'the roles claim is in the ID token');
      token = tokens.refresh_token!;
    };
    await refresh();
    const mean = await perRequest('oidc-token', 5, refresh);
    assert.ok(mean <= 2, `a refresh grant with the roles scope ran ${mean} transactions`);
  });

  it('a client credentials grant on the fast path runs none', async () => {
    const config = await discover(acme.issuer, acme.m2mClientId, acme.m2mClientSecret);
    const grant = () => oidc.clientCredentialsGrant(config, { scope: '' });
    await grant();
    assert.equal(await perRequest('oidc-token', 5, grant), 0);
  });
});
