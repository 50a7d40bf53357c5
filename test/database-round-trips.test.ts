/**
 * Database work per request, counted (not timed), so that a change adding a query or a
 * wait to a hot path fails here whatever the machine's speed:
 *   - transactions, observed by `atrium_db_transactions_per_request` (storage/database.ts
 *     counts them on the request's context). Through PgBouncer in transaction mode, a
 *     transaction is also the unit a server connection is held for;
 *   - round trips, observed by `atrium_db_round_trips_per_request`: each time the pg driver
 *     sends a statement while none is awaiting its answer on that connection, i.e. each time
 *     the request waits on PostgreSQL (storage/pg-driver.ts pipelines BEGIN, the context
 *     statement, the statements and COMMIT of a batch into one). Embedded PGlite has no
 *     network and counts none, so those assertions hold only with DATABASE_URL.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { authorizationRequest, createTenantFixture, discover, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';
import { fewest } from './support/timing.ts';

let t: TestAtrium;
let acme: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
});
after(() => t?.stop());

type Measure = 'transactions' | 'round_trips';

/** A histogram's running sum and count for a route class (0 before its first observation). */
async function observed(measure: Measure, routeClass: string): Promise<{ sum: number; count: number }> {
  const text = await t.atrium.services.metrics.text();
  assert.match(text, new RegExp(`^# TYPE atrium_db_${measure}_per_request histogram$`, 'm'), `the ${measure} histogram is exported`);
  const read = (suffix: string) => Number(new RegExp(`^atrium_db_${measure}_per_request_${suffix}\\{route_class="${routeClass}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: read('sum'), count: read('count') };
}

/** Mean transactions (or round trips) per request of `routeClass` over `n` runs of `request`. */
async function perRequest(routeClass: string, n: number, request: () => Promise<unknown>, measure: Measure = 'transactions'): Promise<number> {
  const before = await observed(measure, routeClass);
  for (let i = 0; i < n; i++) await request();
  const after = await observed(measure, routeClass);
  assert.equal(after.count - before.count, n, `${n} requests of class ${routeClass} observed`);
  return (after.sum - before.sum) / n;
}

const onServer = () => t.atrium.services.db.driver.kind === 'postgres';

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
    const mean = await fewest(2, () => perRequest('oidc-token', 5, refresh));
    assert.ok(mean <= 2, `a refresh grant ran ${mean} transactions`);
  });

  it('a refresh grant waits on PostgreSQL at most twice: the token read with its grant and account, then the writes', { skip: !process.env.DATABASE_URL && 'embedded PGlite has no round trips' }, async () => {
    assert.ok(onServer(), 'DATABASE_URL set: Atrium runs on the PostgreSQL server');
    const start = await refreshToken('openid email offline_access roles');
    const { config } = start;
    let { token } = start;
    const refresh = async () => {
      const tokens = await oidc.refreshTokenGrant(config, token);
      token = tokens.refresh_token!;
    };
    await refresh();
    const mean = await fewest(2, () => perRequest('oidc-token', 5, refresh, 'round_trips'));
    assert.ok(mean <= 2, `a refresh grant waited on PostgreSQL ${mean} times`);
    // A token already spent is still refused, and its grant revoked (the replay path's own writes).
    await assert.rejects(oidc.refreshTokenGrant(config, start.token), { error: 'invalid_grant' });
    await assert.rejects(oidc.refreshTokenGrant(config, token), { error: 'invalid_grant' });
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
    const mean = await fewest(2, () => perRequest('oidc-token', 5, refresh));
    assert.ok(mean <= 2, `a refresh grant with the roles scope ran ${mean} transactions`);
  });

  it('an authorization code exchange runs two transactions, two round trips on PostgreSQL: the code read with its grant, its session and its account, then the writes', async () => {
    const exchange = async () => {
      const request = await authorizationRequest(acme.issuer, acme, { scope: 'openid email', prompt: 'consent' });
      const { callback } = await signInThroughPages(request.url, acme);
      const before = { tx: await observed('transactions', 'oidc-token'), trips: await observed('round_trips', 'oidc-token') };
      await oidc.authorizationCodeGrant(request.config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
      const after = { tx: await observed('transactions', 'oidc-token'), trips: await observed('round_trips', 'oidc-token') };
      assert.equal(after.tx.count - before.tx.count, 1);
      return { tx: after.tx.sum - before.tx.sum, trips: after.trips.sum - before.trips.sum };
    };
    await exchange();
    // The measurement kept is the one whose larger count (transactions, or round trips on PostgreSQL) is fewest.
    let best = { tx: Number.POSITIVE_INFINITY, trips: Number.POSITIVE_INFINITY };
    const worst = (m: { tx: number; trips: number }) => Math.max(m.tx, onServer() ? m.trips : 0);
    await fewest(2, async () => {
      const measured = await exchange();
      if (worst(measured) < worst(best)) best = measured;
      return worst(best);
    });
    assert.ok(best.tx <= 2, `a code exchange ran ${best.tx} transactions`);
    if (onServer()) assert.ok(best.trips <= 2, `a code exchange waited on PostgreSQL ${best.trips} times`);
  });

  it('a client credentials grant on the fast path runs none', async () => {
    const config = await discover(acme.issuer, acme.m2mClientId, acme.m2mClientSecret);
    const grant = () => oidc.clientCredentialsGrant(config, { scope: '' });
    await grant();
    assert.equal(await perRequest('oidc-token', 5, grant), 0);
  });
});
