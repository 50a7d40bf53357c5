/**
 * Clients that authenticate with a signed assertion (private_key_jwt) instead of a secret,
 * and what a tenant admin could try with them: pointing the client's `jwks_uri` at an
 * address inside the deployment's network so that the IdP fetches it (SSRF). oidc-provider
 * refuses to connect to special-use addresses (loopback, private, link-local) for a
 * client's keys; this pins that down for Atrium's Providers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { generateKeyPair, exportJWK } from 'jose';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { customFetchImpl } from './support/http-client.ts';

let t: TestAtrium;
let acme: TenantFixture;
let keys: Awaited<ReturnType<typeof generateKeyPair>>;
let publicJwk: Record<string, unknown>;
/** A JWKS server on loopback, standing in for a service inside the deployment's network. */
let internal: http.Server;
let internalPort: number;
let internalHits = 0;

before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  keys = await generateKeyPair('ES256', { extractable: true });
  publicJwk = { ...(await exportJWK(keys.publicKey)), kid: 'client-key-1', alg: 'ES256', use: 'sig' };
  internal = http.createServer((_req, res) => {
    internalHits++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [publicJwk] }));
  });
  await new Promise<void>((resolve) => internal.listen(0, '127.0.0.1', resolve));
  internalPort = (internal.address() as net.AddressInfo).port;
});
after(async () => {
  internal?.close();
  await t?.stop();
});

async function registerKeyClient(metadata: Record<string, unknown>): Promise<string> {
  const res = await t.api('POST', '/tenants/acme/clients', {
    client_name: 'signed assertions',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'private_key_jwt',
    token_endpoint_auth_signing_alg: 'ES256',
    ...metadata,
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assert.equal(res.body.client_secret, undefined, 'a key client has no secret');
  return res.body.client_id as string;
}

async function grantWithAssertion(clientId: string): Promise<oidc.TokenEndpointResponse> {
  const configuration = await oidc.discovery(new URL(acme.issuer), clientId, undefined, oidc.PrivateKeyJwt({ key: keys.privateKey, kid: 'client-key-1' }), {
    execute: [oidc.allowInsecureRequests],
    [oidc.customFetch]: customFetchImpl as never,
  });
  return oidc.clientCredentialsGrant(configuration);
}

describe('private_key_jwt clients', () => {
  it('get tokens with an assertion signed by a key they registered', async () => {
    const clientId = await registerKeyClient({ jwks: { keys: [publicJwk] } });
    const tokens = await grantWithAssertion(clientId);
    assert.equal(tokens.token_type, 'bearer');
    assert.ok(tokens.access_token);
  });

  it('are refused, and nothing is fetched, when their jwks_uri points inside the network', async () => {
    const clientId = await registerKeyClient({ jwks_uri: `http://127.0.0.1:${internalPort}/jwks` });
    await assert.rejects(grantWithAssertion(clientId), (err: unknown) => {
      assert.ok(err instanceof oidc.ResponseBodyError, String(err));
      assert.equal(err.error, 'invalid_client');
      return true;
    });
    assert.equal(internalHits, 0, 'the IdP connected to a loopback address for a client');
  });
});
