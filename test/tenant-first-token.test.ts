/**
 * A new tenant serves its first token right away (issue 15, item 5: within 50 ms of the
 * creation call). Functional first: a tenant and a machine client made through the API,
 * and the very next request, a client_credentials grant through openid-client, gets a token
 * signed with the tenant's own key. Then the time: a measurement that misses the bound is
 * taken again (the suite shares two cores), never a wider bound.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { customFetchImpl, httpFetch } from './support/http-client.ts';
import { median } from './support/timing.ts';

const BOUND_MS = 50;
let t: TestAtrium;
before(async () => {
  t = await startTestAtrium({ RATE_LIMITS_ENABLED: 'false' });
  await t.atrium.services.keyPool.filled();
});
after(() => t?.stop());

let serial = 0;
/** Creates a tenant and a machine client; times from the tenant creation's answer to the first token. */
async function createAndToken(): Promise<{ slug: string; token: string; fromTenantMs: number; fromClientMs: number }> {
  const slug = `fresh-${serial++}`;
  const created = await t.api('POST', '/tenants', { slug, name: 'Fresh' });
  const tenantReturned = performance.now();
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const client = await t.api('POST', `/tenants/${slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], client_name: 'first' });
  const clientReturned = performance.now();
  assert.equal(client.status, 201, JSON.stringify(client.body));
  const res = await httpFetch(`${t.issuer(slug)}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${client.body.client_id}:${client.body.client_secret}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  const body = (await res.json()) as { access_token?: string };
  const done = performance.now();
  assert.equal(res.status, 200, JSON.stringify(body));
  return { slug, token: body.access_token!, fromTenantMs: done - tenantReturned, fromClientMs: done - clientReturned };
}

describe("a new tenant's first token", () => {
  it('is served to a client made right after the tenant, through openid-client, signed with the tenant key', async () => {
    const slug = 'fresh-rp';
    assert.equal((await t.api('POST', '/tenants', { slug, name: 'Fresh RP' })).status, 201);
    const client = await t.api('POST', `/tenants/${slug}/clients`, { grant_types: ['client_credentials'], response_types: [], redirect_uris: [], client_name: 'rp' });
    assert.equal(client.status, 201);
    const config = await oidc.discovery(new URL(t.issuer(slug)), client.body.client_id, client.body.client_secret, undefined, {
      execute: [oidc.allowInsecureRequests],
      [oidc.customFetch]: customFetchImpl as never,
    });
    // The API as resource: the access token is then a JWT, which shows the key that signed it.
    const tokens = await oidc.clientCredentialsGrant(config, { resource: `${t.baseUrl}/api/v1` });
    const jwks = (await (await httpFetch(config.serverMetadata().jwks_uri!)).json()) as JSONWebKeySet;
    const { payload } = await jwtVerify(tokens.access_token, createLocalJWKSet(jwks), { issuer: t.issuer(slug) });
    assert.equal(payload.client_id, client.body.client_id);
    const keys = await t.api('GET', `/tenants/${slug}/keys`);
    assert.ok((keys.body.keys as { kid: string }[]).some((k) => k.kid === decodeProtectedHeader(tokens.access_token).kid), 'signed with one of the new tenant\'s keys');
  });

  it(`is served within ${BOUND_MS} ms of the tenant creation's answer (median of 5; re-measured up to 3 times)`, async (ctx) => {
    const seen: string[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const runs = [];
      for (let i = 0; i < 5; i++) runs.push(await createAndToken());
      const fromTenant = median(runs.map((r) => r.fromTenantMs));
      const fromClient = median(runs.map((r) => r.fromClientMs));
      ctx.diagnostic(`median ${fromTenant.toFixed(1)} ms from the tenant's creation, ${fromClient.toFixed(1)} ms from the client's`);
      if (fromTenant <= BOUND_MS) return;
      seen.push(`${fromTenant.toFixed(1)} ms (of which after the client's creation ${fromClient.toFixed(1)} ms)`);
    }
    assert.fail(`first token after tenant creation, medians: ${seen.join('; ')}`);
  });
});
