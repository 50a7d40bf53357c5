/**
 * Moving a tenant between deployments (issue 16, item 3). The first deployment runs in this
 * process (PostgreSQL with Redis when DATABASE_URL and REDIS_URL are set, else embedded
 * PGlite); the second is a child process on embedded PGlite with its own ENCRYPTION_KEY. The
 * tenant goes there and comes back: after each move a user signs in with the same password
 * and TOTP, a client authenticates with the same secret, a token issued before the move
 * verifies against the new deployment's JWKS under the same issuer, and the rows are the
 * rows. Bad bundles are refused whole, with nothing half-imported; the CLI does the same.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { fetch as undiciFetch, type Agent } from 'undici';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createEmbeddedDeployment, type AtriumProcess } from './support/atrium-process.ts';
import { createTenantFixture, REDIRECT_URI, type TenantFixture } from './support/fixtures.ts';
import { codeAt, createUser, stepAt, enrolTotp, finish, mfaAction, passwordStep, submit } from './support/mfa.ts';
import { customFetchVia, pinnedAgent, TestBrowser } from './support/http-client.ts';
import { assertApiError } from './support/api-assertions.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { openBundle, sealBundle } from '../src/core/transfer-seal.ts';
import { NOT_TRANSFERRED, OPTIONAL_TABLES, TRANSFERRED_TABLES } from '../src/runtime/tenant-transfer.ts';

const DOMAIN = 'login.moving.test';
const ISSUER = `http://${DOMAIN}`;
const PASSPHRASE = 'correct horse battery staple, moving day';
const SMTP_PASSWORD = `smtp-${randomUUID()}`;
const UPSTREAM_SECRET = `upstream-${randomUUID()}`;
const PROFILE = { given_name: 'Second', locale: 'sv-SE', address: { locality: 'Lund', country: 'SE' } };

type Deployment = Awaited<ReturnType<typeof createEmbeddedDeployment>>;
type Payload = { tenant: { id: string; slug: string }; tables: Record<string, Record<string, unknown>[]> };
interface Api {
  status: number;
  body: any;
  headers: Headers;
  bytes: Buffer;
}

let s: TestAtrium;
let moving: TenantFixture;
let bystander: TenantFixture;
let second: { email: string; password: string; id: string };
let totpSecret: string;
let tokenBefore: string;
let jwksBefore: JSONWebKeySet;
let target: Deployment;
let instance: AtriumProcess;
let targetToken: string;
let exported: Buffer;

/** The API of a deployment on `port`, as its platform client (`token`). */
async function call(port: number, token: string, method: string, apiPath: string, body?: unknown): Promise<Api> {
  const res = await undiciFetch(`http://127.0.0.1:${port}/api/v1${apiPath}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.toString('utf8'));
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers as unknown as Headers, bytes };
}
const onSource = async (method: string, apiPath: string, body?: unknown) => call(s.port, await s.platformToken(), method, apiPath, body);
const onTarget = (method: string, apiPath: string, body?: unknown) => call(instance.port, targetToken, method, apiPath, body);

/** Everything a relying party does at the tenant's issuer, sent to the deployment on `port`. */
function at(port: number) {
  const agent: Agent = pinnedAgent(port);
  return {
    fetch: (url: string, init: Parameters<typeof undiciFetch>[1] = {}) => undiciFetch(url, { ...init, dispatcher: agent }),
    browser: () => new TestBrowser(agent),
    async config(clientId: string, secret: string) {
      return oidc.discovery(new URL(ISSUER), clientId, secret, oidc.ClientSecretBasic(secret), { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: customFetchVia(agent) as never });
    },
  };
}

async function machineToken(port: number, secret = moving.m2mClientSecret): Promise<{ status: number; json: any }> {
  const res = await at(port).fetch(`${ISSUER}/token`, {
    method: 'POST',
    headers: { authorization: `Basic ${Buffer.from(`${moving.m2mClientId}:${secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  return { status: res.status, json: await res.json() };
}

/** Password, then a TOTP code, through the tenant's pages and the confidential client (its secret at the token endpoint). */
/**
 * The TOTP step of the last code used (enrolment, then each sign-in): a code is accepted once,
 * and the spent step travels in the bundle, so each sign-in takes the step after it, waiting
 * (up to a step) until that step is within the accepted window of now.
 */
let lastTotpStep = 0;
async function nextTotpOffset(): Promise<number> {
  // The step after the last one spent, but never one already behind the accepted window: an
  // export and import on a slow machine can take longer than a step.
  const step = Math.max(lastTotpStep + 1, stepAt(Date.now()));
  while (stepAt(Date.now()) + 1 < step) await new Promise((resolve) => setTimeout(resolve, 250));
  lastTotpStep = step;
  return step - stepAt(Date.now());
}

async function signInWithTotp(port: number): Promise<Record<string, unknown>> {
  const offset = await nextTotpOffset();
  const deployment = at(port);
  const config = await deployment.config(moving.clientId, moving.clientSecret);
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid email', code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256', state, nonce });
  const auth = { config, url, verifier, state, nonce };
  const browser = deployment.browser();
  const mfa = await passwordStep(browser, auth, second);
  assert.match(mfa.html, /mfa\/totp/, `the second factor is asked for: ${mfa.status} ${mfa.url.href}`);
  const { claims } = await finish(browser, auth, await submit(browser, mfa, mfaAction(mfa, 'totp'), { code: codeAt(totpSecret, offset) }));
  return claims;
}

async function jwksOf(port: number): Promise<JSONWebKeySet> {
  return (await (await at(port).fetch(`${ISSUER}/jwks`)).json()) as JSONWebKeySet;
}

/** What must be the same after a move: every transferred row, less what the move itself changes. */
function comparable(payload: Payload, options: { withAudit?: boolean } = {}): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const [table, rows] of Object.entries(payload.tables)) {
    if (table === 'audit_events' && !options.withAudit) continue;
    out[table] = rows.map((row) => (table === 'tenants' ? { ...row, version: undefined, updated_at: undefined } : row));
  }
  return out;
}

async function auditActions(port: number, token: string, slug: string): Promise<{ action: string; outcome: string; details: any }[]> {
  const res = await call(port, token, 'GET', `/tenants/${slug}/audit?limit=200`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events;
}

before(async () => {
  s = await startTestAtrium();
  moving = await createTenantFixture(s, 'moving');
  bystander = await createTenantFixture(s, 'bystander');
  assert.equal((await s.addVerifiedDomain('moving', DOMAIN, { primary: true })).status, 201);
  const smtp = await s.api('PUT', '/tenants/moving/config/integrations', { smtp: { host: 'smtp.moving.test', port: 587, user: 'mailer', password: SMTP_PASSWORD, from: 'no-reply@moving.test', secure: false } });
  assert.equal(smtp.status, 200, JSON.stringify(smtp.body));
  const branding = await s.api('PUT', '/tenants/moving/config/branding', { company_name: 'Moving Co.' });
  assert.equal(branding.status, 200, JSON.stringify(branding.body));
  const upstream = await s.api('PUT', '/tenants/moving/federation/upstream', { provider: 'generic_oidc', issuer: 'https://idp.example.test', client_id: 'downstream', client_secret: UPSTREAM_SECRET });
  assert.ok(upstream.status < 300, JSON.stringify(upstream.body));
  assert.equal((await s.api('POST', '/tenants/moving/roles', { name: 'mover', description: 'Moves with the tenant' })).status, 201);
  second = await createUser(s, moving, 'second', { roles: ['admin', 'mover'] });
  totpSecret = (await enrolTotp(ISSUER, second, at(s.port).browser())).secret;
  lastTotpStep = stepAt(Date.now()); // the enrolment's code was of this step or the one before
  // A passkey and an upstream link, as the stores would have written them.
  await runAsTenant((await s.atrium.services.tenantStore.findBySlug('moving'))!.id, () =>
    s.atrium.services.db.withTenant(async (q) => {
      await q.query(`INSERT INTO webauthn_credentials (tenant_id, credential_id, user_id, public_key, name) VALUES (current_setting('app.tenant_id')::uuid, 'cred-moving', $1, 'pQECAyYgASFYIA', 'laptop')`, [second.id]);
      await q.query(`INSERT INTO federated_identities (tenant_id, issuer, subject, connection_name, user_id) VALUES (current_setting('app.tenant_id')::uuid, 'https://idp.example.test', 'upstream-sub', 'upstream', $1)`, [second.id]);
      await q.query('UPDATE users SET profile = $2::jsonb WHERE id = $1', [second.id, JSON.stringify(PROFILE)]);
    }),
  );
  // Two generations of keys, so a retired (still published) key travels too.
  assert.equal((await s.api('POST', '/tenants/moving/keys/rotate')).status, 200);
  const minted = await machineToken(s.port);
  assert.equal(minted.status, 200, JSON.stringify(minted.json));
  tokenBefore = minted.json.access_token;
  jwksBefore = await jwksOf(s.port);
  target = await createEmbeddedDeployment();
  instance = await target.start();
  targetToken = await target.platformToken(instance);
}, { timeout: 300_000 });

after(async () => {
  await target?.drop();
  await s?.stop();
});

describe('tenant export and import', () => {
  it('decides for every table with a tenant_id whether it travels', async () => {
    const res = await s.atrium.services.db.crossTenant('list tenant tables', (q) =>
      q.query<{ name: string }>(`SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY 1`),
    );
    const live = res.rows.map((r) => r.name);
    assert.ok(live.includes('users') && live.includes('oidc_payloads'), 'the list comes from the database');
    const decided = [...TRANSFERRED_TABLES.filter((t) => t !== 'tenants'), ...OPTIONAL_TABLES, ...Object.keys(NOT_TRANSFERRED)];
    assert.deepEqual([...decided].sort(), live, 'each tenant table is in exactly one list: transferred, optional (audit) or not transferred with its reason');
    assert.equal(new Set(decided).size, decided.length, 'no table is in two lists');
  });

  it('exports one tenant, all of its rows and none of another tenant\'s, sealed under the passphrase', async () => {
    const res = await onSource('POST', '/tenants/moving/export', { passphrase: PASSPHRASE, include_audit: true });
    assert.equal(res.status, 200, res.bytes.toString('utf8').slice(0, 300));
    assert.equal(res.headers.get('content-type'), 'application/vnd.atrium.tenant-bundle');
    exported = res.bytes;
    assert.equal(exported.subarray(0, 8).toString(), 'ATRIUMTB');
    for (const secret of [moving.m2mClientSecret, SMTP_PASSWORD, UPSTREAM_SECRET, second.email, totpSecret]) assert.ok(!exported.includes(secret), 'nothing readable without the passphrase');
    const payload = (await openBundle(exported, PASSPHRASE)) as Payload;
    const text = JSON.stringify(payload);
    // The secrets are in it (in plaintext inside the seal), so the target can seal them under its own key.
    for (const secret of [moving.m2mClientSecret, moving.clientSecret, SMTP_PASSWORD, UPSTREAM_SECRET]) assert.ok(text.includes(secret), 'every secret travels');
    const bystanderId = (await s.atrium.services.tenantStore.findBySlug('bystander'))!.id;
    for (const [table, rows] of Object.entries(payload.tables)) {
      for (const row of rows) assert.equal(table === 'tenants' ? row.id : row.tenant_id, payload.tenant.id, `${table}: a row of another tenant`);
    }
    for (const marker of [bystanderId, bystander.email, bystander.clientId, bystander.m2mClientId, 'bystander']) assert.ok(!text.includes(marker), `the bundle names the other tenant (${marker})`);
    for (const table of TRANSFERRED_TABLES) assert.ok((payload.tables[table]?.length ?? 0) > 0, `the bundle has rows of ${table}`);
    assert.ok(payload.tables.signing_keys!.some((k) => k.status === 'retired'), 'the retired, still published key travels');
    assert.ok(payload.tables.audit_events!.length > 0, 'include_audit brings the audit log');
    const withoutAudit = (await openBundle((await onSource('POST', '/tenants/moving/export', { passphrase: PASSPHRASE })).bytes, PASSPHRASE)) as Payload;
    assert.equal(withoutAudit.tables.audit_events, undefined, 'without include_audit, no audit log');
    const events = await auditActions(s.port, await s.platformToken(), 'moving');
    assert.ok(events.filter((e) => e.action === 'tenant.exported').length >= 2, 'each export is audited');
  });

  it('refuses bad input to export: a short passphrase, an unknown field, a reserved tenant', async () => {
    assertApiError(await onSource('POST', '/tenants/moving/export', { passphrase: 'short' }), 400, 'invalid_request', /passphrase/);
    assertApiError(await onSource('POST', '/tenants/moving/export', { passphrase: PASSPHRASE, audit: true }), 400, 'invalid_request', /audit/);
    assertApiError(await onSource('POST', '/tenants/_platforms/export', { passphrase: PASSPHRASE }), 400, 'reserved_tenant');
  });

  it('refuses a wrong passphrase, a truncated, tampered or newer bundle whole: 400, nothing imported, each audited', async () => {
    const headerEnd = 12 + exported.readUInt32BE(8);
    const flipped = (at: number) => {
      const copy = Buffer.from(exported);
      copy[at] = copy[at]! ^ 0x01;
      return copy;
    };
    const salt = exported.indexOf('"salt":"') + 8;
    const saltChanged = Buffer.from(exported);
    saltChanged[salt] = saltChanged[salt] === 0x41 ? 0x42 : 0x41;
    const newer = Buffer.from(exported.toString('latin1').replace('"version":1', '"version":2'), 'latin1');
    // A bundle made with the passphrase whose last table does not fit: the rows before it must not stay.
    const payload = (await openBundle(exported, PASSPHRASE)) as Payload;
    const badClients = await sealBundle({ ...payload, tables: { ...payload.tables, federated_identities: [{ issuer: 'x', subject: 'y', connection_name: 'z', user_id: 'not-a-uuid' }] } }, PASSPHRASE);
    const cases: [string, Buffer, string, string][] = [
      ['wrong passphrase', exported, 'another passphrase entirely', 'bundle_not_opened'],
      ['truncated', exported.subarray(0, exported.length - 100), PASSPHRASE, 'bundle_not_opened'],
      ['cut inside the header', exported.subarray(0, 20), PASSPHRASE, 'invalid_bundle'],
      ['a byte of the body changed', flipped(headerEnd + 40), PASSPHRASE, 'bundle_not_opened'],
      ['a byte of the tag changed', flipped(exported.length - 1), PASSPHRASE, 'bundle_not_opened'],
      ['the header changed (a character of the salt)', saltChanged, PASSPHRASE, 'bundle_not_opened'],
      ['a newer format version', newer, PASSPHRASE, 'unsupported_bundle_version'],
      ['not a bundle', Buffer.from('{"hello":"world"}'), PASSPHRASE, 'invalid_bundle'],
      ['rows the schema refuses, after others that fit', badClients, PASSPHRASE, 'invalid_bundle'],
    ];
    for (const [what, bundle, passphrase, error] of cases) {
      const res = await onTarget('POST', '/tenants/import', { bundle: bundle.toString('base64'), passphrase });
      assertApiError(res, 400, error);
      assert.equal((await onTarget('GET', '/tenants/moving')).status, 404, `${what}: nothing imported`);
    }
    const failures = (await auditActions(instance.port, targetToken, '_platforms')).filter((e) => e.action === 'tenant.import_failed');
    assert.equal(failures.length, cases.length, 'every refused import is audited');
    assert.ok(failures.every((e) => e.outcome === 'failure'));
    assertApiError(await onTarget('POST', '/tenants/import', { bundle: exported.toString('base64'), passphrase: PASSPHRASE, replace: 'yes' }), 400, 'invalid_request', /replace/);
    assertApiError(await onTarget('POST', '/tenants/import', { bundle: exported.toString('base64'), passphrase: PASSPHRASE, tenant: 'other' }), 400, 'invalid_request', /tenant/);
  });

  it('refuses, whole, a tenant whose verified domain another tenant holds on the target (409), and a tenant id there under another slug', async () => {
    const payload = (await openBundle(exported, PASSPHRASE)) as Payload;
    const id = randomUUID();
    const clone = { ...payload, tenant: { id, slug: 'clone' }, tables: { ...payload.tables, tenants: payload.tables.tenants!.map((t) => ({ ...t, id, slug: 'clone' })) } };
    const res = await onSource('POST', '/tenants/import', { bundle: (await sealBundle(clone, PASSPHRASE)).toString('base64'), passphrase: PASSPHRASE });
    assertApiError(res, 409, 'conflict');
    assert.equal((await onSource('GET', '/tenants/clone')).status, 404, 'nothing of the clone stays');
    const renamed = { ...payload, tenant: { ...payload.tenant, slug: 'renamed' }, tables: { ...payload.tables, tenants: payload.tables.tenants!.map((t) => ({ ...t, slug: 'renamed' })) } };
    const again = await onSource('POST', '/tenants/import', { bundle: (await sealBundle(renamed, PASSPHRASE)).toString('base64'), passphrase: PASSPHRASE, replace: true });
    assertApiError(again, 409, 'conflict', /already exists here as "moving"/);
    assert.equal((await onSource('GET', '/tenants/renamed')).status, 404);
  });

  it('imports into embedded PGlite under another ENCRYPTION_KEY: same issuer and kids, password and TOTP, client secret, an old token verifies', async () => {
    const res = await onTarget('POST', '/tenants/import', { bundle: exported.toString('base64'), passphrase: PASSPHRASE });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.tenant.issuer, ISSUER);
    assert.equal(res.body.replaced, false);
    const discovery = await (await at(instance.port).fetch(`${ISSUER}/.well-known/openid-configuration`)).json() as { issuer: string };
    assert.equal(discovery.issuer, ISSUER, 'the target serves the same issuer');
    const jwks = await jwksOf(instance.port);
    assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), jwksBefore.keys.map((k) => k.kid).sort(), 'the same keys, by kid');
    const { payload } = await jwtVerify(tokenBefore, createLocalJWKSet(jwks), { issuer: ISSUER });
    assert.equal(payload.client_id, moving.m2mClientId);

    const minted = await machineToken(instance.port);
    assert.equal(minted.status, 200, `the client's secret still works: ${JSON.stringify(minted.json)}`);
    assert.equal(decodeJwt(minted.json.access_token).iss, ISSUER);
    assert.equal(decodeProtectedHeader(minted.json.access_token).kid, decodeProtectedHeader(tokenBefore).kid, 'signed with the same current key');
    assert.equal((await machineToken(instance.port, 'not-the-secret')).status, 401);

    const claims = await signInWithTotp(instance.port);
    assert.equal(claims.sub, second.id);
    assert.equal(claims.iss, ISSUER);

    const upstream = await onTarget('GET', '/tenants/moving/federation/upstream');
    assert.equal(upstream.status, 200, JSON.stringify(upstream.body));
    const moved = await onTarget('GET', `/tenants/moving/users/${second.id}`);
    assert.deepEqual(moved.body.profile, PROFILE, 'the profile claims a claims_mapping kept travel with the user');
    const events = await auditActions(instance.port, targetToken, 'moving');
    assert.ok(events.some((e) => e.action === 'tenant.imported'), 'the import is audited in the tenant');
    assert.ok(events.some((e) => e.action === 'tenant.domain_verified'), 'the audit log came along (include_audit)');
    assertApiError(await onTarget('POST', '/tenants/import', { bundle: exported.toString('base64'), passphrase: PASSPHRASE }), 409, 'conflict', /already exists/);
  });

  it('comes back from PGlite with replace: the same rows, sign-in and secrets work again, the other tenant untouched', async () => {
    const back = await onTarget('POST', '/tenants/moving/export', { passphrase: PASSPHRASE });
    assert.equal(back.status, 200, back.bytes.toString('utf8').slice(0, 300));
    const fromTarget = (await openBundle(back.bytes, PASSPHRASE)) as Payload;
    const original = (await openBundle(exported, PASSPHRASE)) as Payload;
    // What no sign-in changed is exactly what left (a sign-in moves last_step, last_login_at, devices).
    for (const table of ['tenants', 'tenant_domains', 'tenant_roles', 'oidc_clients', 'signing_keys', 'federation_connections', 'federated_identities', 'webauthn_credentials']) {
      assert.deepEqual(comparable(fromTarget)[table], comparable(original)[table], `${table} is what was exported`);
    }
    assertApiError(await onSource('POST', '/tenants/import', { bundle: back.bytes.toString('base64'), passphrase: PASSPHRASE }), 409, 'conflict');
    const res = await onSource('POST', '/tenants/import', { bundle: back.bytes.toString('base64'), passphrase: PASSPHRASE, replace: true });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.replaced, true);
    const again = (await openBundle((await onSource('POST', '/tenants/moving/export', { passphrase: PASSPHRASE })).bytes, PASSPHRASE)) as Payload;
    assert.deepEqual(comparable(again), comparable(fromTarget), 'the rows that came back are the rows that left the target');

    assert.equal((await machineToken(s.port)).status, 200);
    await jwtVerify(tokenBefore, createLocalJWKSet(await jwksOf(s.port)), { issuer: ISSUER });
    // The code of the step the target accepted stays spent (its last_step came along): the next step is taken.
    assert.equal((await signInWithTotp(s.port)).sub, second.id);
    const users = await onSource('GET', '/tenants/bystander/users');
    assert.ok(JSON.stringify(users.body).includes(bystander.email), 'the other tenant is untouched');
  });

  // Each run opens a database: on embedded PGlite under load that is most of a minute.
  it('moves a tenant with the CLI: passphrase from the environment or standard input, clear errors, non-zero exits', { timeout: 600_000 }, async () => {
    await instance.stop('SIGTERM');
    const dir = await mkdtemp(path.join(tmpdir(), 'atrium-transfer-'));
    const fresh = await mkdtemp(path.join(tmpdir(), 'atrium-transfer-target-'));
    try {
      const file = path.join(dir, 'moving.atrium-bundle');
      const source = { ...target.env, DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' };
      const exportRun = await cli(['tenant', 'export', 'moving', '--out', file], { ...source, ATRIUM_TRANSFER_PASSPHRASE: PASSPHRASE });
      assert.equal(exportRun.code, 0, exportRun.stderr);
      assert.match(exportRun.stdout, /exported tenant moving/);
      const payload = (await openBundle(await readFile(file), PASSPHRASE)) as Payload;
      assert.equal(payload.tenant.slug, 'moving');
      const dest = { ...source, DATA_DIR: fresh, ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64') };
      const wrong = await cli(['tenant', 'import', file], dest, 'not the passphrase at all\n');
      assert.notEqual(wrong.code, 0);
      assert.match(wrong.stderr, /could not be opened/);
      const imported = await cli(['tenant', 'import', file], dest, `${PASSPHRASE}\n`);
      assert.equal(imported.code, 0, imported.stderr);
      assert.match(imported.stdout, /imported tenant moving/);
      const twice = await cli(['tenant', 'import', file], { ...dest, ATRIUM_TRANSFER_PASSPHRASE: PASSPHRASE });
      assert.notEqual(twice.code, 0);
      assert.match(twice.stderr, /already exists/);
      const argument = await cli(['tenant', 'import', file, '--passphrase', PASSPHRASE], dest);
      assert.notEqual(argument.code, 0);
      assert.match(argument.stderr, /never an argument/);
    } finally {
      await rm(dir, { recursive: true, force: true });
      await rm(fresh, { recursive: true, force: true });
    }
  });
});

/** `node src/cli.ts …` with exactly this environment; stdin as given (closed otherwise). */
function cli(args: string[], env: Record<string, string>, stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(DATABASE_|REDIS_URL|ATRIUM_TRANSFER_PASSPHRASE)/.test(k)));
  const child = spawn(process.execPath, ['src/cli.ts', ...args], { env: { ...clean, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(stdin);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}
