/**
 * Secrets never reach a log line: with logging at its most verbose, every way a secret
 * enters or leaves Atrium (client secrets, passwords, sealed config and federation secrets,
 * bootstrap credentials, access tokens, authorization codes) is exercised, and the log is
 * searched for each. The log must hold the requests themselves, or the search proves nothing.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import * as oidc from 'openid-client';
import { BOOTSTRAP_CLIENT_SECRET, startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, REDIRECT_URI, signInThroughPages, SignInRefused, type TenantFixture } from './support/fixtures.ts';
import { signInToConsole } from './support/console.ts';

const ADMIN_PASSWORD = 'bootstrap-admin-passphrase-7c1';
const SMTP_PASSWORD = 'smtp-password-9f2e1';
const UPSTREAM_SECRET = 'upstream-client-secret-4b7a';
const WRONG_PASSWORD = 'a-wrong-password-for-logs-3d';

let t: TestAtrium;
let acme: TenantFixture;
let logged = '';
const sink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    logged += chunk.toString();
    done();
  },
});

before(async () => {
  t = await startTestAtrium({ LOG_LEVEL: 'trace', ATRIUM_BOOTSTRAP_ADMIN_EMAIL: 'root@atrium.test', ATRIUM_BOOTSTRAP_ADMIN_PASSWORD: ADMIN_PASSWORD }, { logStream: sink });
  acme = await createTenantFixture(t, 'acme');
});
after(() => t?.stop());

it('logs requests but no secret, password or token', async () => {
  const secrets: string[] = [BOOTSTRAP_CLIENT_SECRET, ADMIN_PASSWORD, SMTP_PASSWORD, UPSTREAM_SECRET, WRONG_PASSWORD, acme.password, acme.clientSecret, acme.m2mClientSecret];

  // Sealed configuration and federation secrets, written and read back.
  assert.equal((await t.api('PUT', '/tenants/acme/config/integrations', { smtp: { host: 'smtp.acme.test', port: 587, user: 'mailer', password: SMTP_PASSWORD } })).status, 200);
  assert.equal((await t.api('GET', '/tenants/acme/config')).status, 200);
  const federation = await t.api('PUT', '/tenants/acme/federation/corp', { provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'downstream', client_secret: UPSTREAM_SECRET });
  assert.ok(federation.status === 200 || federation.status === 201, JSON.stringify(federation.body));

  // A client secret minted and rotated, and a machine token.
  const client = await t.api('POST', '/tenants/acme/clients', { client_name: 'logs', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
  secrets.push(client.body.client_secret);
  const machine = await discover(acme.issuer, acme.m2mClientId, acme.m2mClientSecret);
  secrets.push((await oidc.clientCredentialsGrant(machine, {})).access_token);
  secrets.push(await t.platformToken());

  // Sign-ins: a wrong password, a right one with the code exchanged, the console.
  const web = await discover(acme.issuer, acme.clientId, acme.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const params = { redirect_uri: REDIRECT_URI, scope: 'openid email offline_access', prompt: 'consent', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' };
  await assert.rejects(signInThroughPages(oidc.buildAuthorizationUrl(web, params), { email: acme.email, password: WRONG_PASSWORD }), SignInRefused);
  const { callback } = await signInThroughPages(oidc.buildAuthorizationUrl(web, params), acme);
  secrets.push(callback.searchParams.get('code')!);
  const tokens = await oidc.authorizationCodeGrant(web, callback, { pkceCodeVerifier: verifier });
  secrets.push(tokens.access_token, tokens.refresh_token!, tokens.id_token!);
  await signInToConsole(t.baseUrl, { email: 'root@atrium.test', password: ADMIN_PASSWORD }, '/platform');

  assert.match(logged, /\/token/, 'the log holds the requests');
  assert.match(logged, /\/interaction\//, 'the log holds the sign-in pages');
  for (const secret of secrets) {
    assert.ok(secret && secret.length >= 16, 'a real secret to look for');
    assert.ok(!logged.includes(secret), `a secret (${secret.slice(0, 4)}…) is in the log`);
  }
});
