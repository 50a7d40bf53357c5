/**
 * The pool under pressure: with room for one Provider, tenants evict each other, and an
 * evicted tenant loses nothing (sessions, grants and tokens live in the database).
 * Concurrent cold requests share one build; expired rows are swept.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { httpFetch } from './support/http-client.ts';
import { sweepExpiredPayloads } from '../src/runtime/expiry-sweeper.ts';

/** A request that always needs the tenant's Provider (discovery and the JWKS can be served from a cache). */
const PROVIDER_BOUND = '/.well-known/oauth-authorization-server';

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;

before(async () => {
  t = await startTestAtrium({ MULTI_TENANCY_PROVIDER_POOL_MAX_SIZE: '1' });
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

it('an evicted tenant keeps its sessions, refresh tokens and access tokens', async () => {
  const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const authParams = { redirect_uri: REDIRECT_URI, scope: 'openid offline_access', prompt: 'consent', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
  const { callback, browser } = await signInThroughPages(oidc.buildAuthorizationUrl(config, authParams), acme);
  const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier });

  // globex takes the only pool slot: acme's Provider is evicted.
  const buildsBefore = t.atrium.services.pool.stats.builds;
  assert.equal((await httpFetch(`${globex.issuer}${PROVIDER_BOUND}`)).status, 200);
  assert.equal((await httpFetch(`${acme.issuer}${PROVIDER_BOUND}`)).status, 200);
  assert.ok(t.atrium.services.pool.stats.builds >= buildsBefore + 2, 'both tenants were (re)built');
  assert.equal(t.atrium.services.pool.size, 1);

  // The rebuilt acme Provider still honours everything issued before.
  assert.equal((await oidc.tokenIntrospection(config, tokens.access_token)).active, true);
  const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
  assert.ok(refreshed.access_token);
  // The browser session survived too: a new authorization request needs no login form.
  const again = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
  await httpFetch(`${globex.issuer}${PROVIDER_BOUND}`); // evict acme once more
  const step = await browser.follow(again, (u) => u.href.startsWith(REDIRECT_URI));
  assert.ok(step.url.href.startsWith(REDIRECT_URI), `expected silent SSO, got ${step.url.href}`);
  assert.ok(step.url.searchParams.get('code'));
});

it('concurrent first requests for a cold tenant build one Provider', async () => {
  const created = await t.api('POST', '/tenants', { slug: 'cold', name: 'Cold' });
  assert.equal(created.status, 201);
  await httpFetch(`${globex.issuer}${PROVIDER_BOUND}`); // make sure "cold" is not pooled
  const before = t.atrium.services.pool.stats.builds;
  const responses = await Promise.all(Array.from({ length: 25 }, () => httpFetch(`${t.issuer('cold')}${PROVIDER_BOUND}`)));
  assert.ok(responses.every((r) => r.status === 200));
  assert.equal(t.atrium.services.pool.stats.builds - before, 1);
});

it('sweeps expired oidc rows and keeps live ones', async () => {
  const { db } = t.atrium.services;
  const acmeId = (await t.atrium.services.tenantStore.findBySlug('acme'))!.id;
  await db.crossTenant('test: plant rows', async (q) => {
    await q.query(`INSERT INTO oidc_payloads (tenant_id, model, id, payload, expires_at) VALUES ($1, 'AccessToken', 'expired-one', '{}', now() - interval '1 hour')`, [acmeId]);
    await q.query(`INSERT INTO oidc_payloads (tenant_id, model, id, payload, expires_at) VALUES ($1, 'AccessToken', 'live-one', '{}', now() + interval '1 hour')`, [acmeId]);
  });
  assert.ok((await sweepExpiredPayloads(db)) >= 1);
  const left = await db.crossTenant('test: read rows', (q) => q.query<{ id: string }>(`SELECT id FROM oidc_payloads WHERE id IN ('expired-one', 'live-one')`));
  assert.deepEqual(left.rows.map((r) => r.id), ['live-one']);
});

it('sweeps expired pending upstream sign-ins and old emailed link tokens with them', async () => {
  const { db } = t.atrium.services;
  const acmeId = (await t.atrium.services.tenantStore.findBySlug('acme'))!.id;
  await db.crossTenant('test: plant rows', async (q) => {
    for (const [id, expires] of [['state-expired', "now() - interval '1 minute'"], ['state-live', "now() + interval '10 minutes'"]] as const) {
      await q.query(
        `INSERT INTO federation_login_states (tenant_id, state_id, connection_name, interaction_uid, nonce, code_verifier_enc, redirect_uri, browser_hash, expires_at)
         VALUES ($1, $2, 'up', 'uid', 'n', 'v', 'https://x.test/cb', 'b', ${expires})`,
        [acmeId, id],
      );
    }
  });
  await sweepExpiredPayloads(db);
  const left = await db.crossTenant('test: read rows', (q) => q.query<{ state_id: string }>('SELECT state_id FROM federation_login_states WHERE tenant_id = $1', [acmeId]));
  assert.deepEqual(left.rows.map((r) => r.state_id), ['state-live']);
});
