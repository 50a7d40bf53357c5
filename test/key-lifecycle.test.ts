/**
 * Signing key lifecycle: the scheduled rotation per tenant (`oidc.key_rotation_days`), the
 * removal of retired keys once the tokens they signed have expired, and the lease that keeps
 * the job on one instance at a time. The clock is faked by back-dating key and lease rows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { httpFetch } from './support/http-client.ts';
import { KeyLifecycle, KEY_LIFECYCLE_LEASE } from '../src/oidc/key-lifecycle.ts';
import { RETIRED_KEY_MARGIN_SECONDS } from '../src/oidc/key-schedule.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import type { Services } from '../src/services.ts';

interface KeyJson {
  kid: string;
  alg: string;
  status: string;
  activated_at: string | null;
  retired_at: string | null;
  rotates_at: string | null;
  expires_at: string | null;
}

let t: TestAtrium;
let services: Services;
const ids = new Map<string, string>();

before(async () => {
  // No timer: the tests drive the job's run function themselves.
  t = await startTestAtrium({}, { keyLifecycleIntervalMs: 0 });
  services = t.atrium.services;
  for (const slug of ['acme', 'globex', 'initech', 'race', 'tick']) {
    const res = await t.api('POST', '/tenants', { slug, name: slug });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    ids.set(slug, res.body.id);
  }
});
after(() => t?.stop());

const sql = <R = Record<string, unknown>>(text: string, params: unknown[] = []) =>
  services.db.crossTenant('test: fake the clock', async (q) => (await q.query<R>(text, params)).rows);

/** Moves a date column of a tenant's keys in one status into the past. */
const backdate = (slug: string, status: string, column: 'activated_at' | 'retired_at' | 'created_at', seconds: number) =>
  sql(`UPDATE signing_keys SET ${column} = ${column} - make_interval(secs => $3) WHERE tenant_id = $1 AND status = $2`, [ids.get(slug), status, seconds]);

const setOidcConfig = async (slug: string, oidc: Record<string, unknown>) => {
  assert.ok(await services.tenantStore.updateConfigSection(ids.get(slug)!, 'oidc', oidc));
};

const keys = async (slug: string): Promise<KeyJson[]> => {
  const res = await t.api('GET', `/tenants/${slug}/keys`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.keys;
};
const kids = (list: { kid: string }[]) => list.map((k) => k.kid).sort();

async function jwks(slug: string): Promise<JSONWebKeySet> {
  const res = await httpFetch(`${t.issuer(slug)}/jwks`);
  assert.equal(res.status, 200);
  return (await res.json()) as JSONWebKeySet;
}

const DAY = 86_400;

describe('scheduled rotation', () => {
  let acmeBefore: KeyJson[];
  let globexBefore: KeyJson[];
  let initechBefore: KeyJson[];
  let m2m: { id: string; secret: string };
  let oldToken: string;

  before(async () => {
    const client = await t.api('POST', '/tenants/acme/clients', { grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    m2m = { id: client.body.client_id, secret: client.body.client_secret };
    oldToken = await machineToken();
  });

  async function machineToken(): Promise<string> {
    const res = await httpFetch(`${t.issuer('acme')}/token`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${m2m.id}:${m2m.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await res.json()) as { access_token?: string };
    assert.ok(body.access_token, JSON.stringify(body));
    return body.access_token;
  }

  it('does nothing while every key is younger than its schedule', async () => {
    const run = await services.keyLifecycle.run('holder-a');
    assert.deepEqual(run, { leader: true, rotated: [], removed: {} });
  });

  it('lists rotates_at for current keys: activation plus key_rotation_days (90 by default)', async () => {
    for (const key of await keys('globex')) {
      assert.equal(key.status, 'current');
      assert.equal(Date.parse(key.rotates_at!) - Date.parse(key.activated_at!), 90 * DAY * 1000);
      assert.equal(key.expires_at, null);
    }
    await setOidcConfig('initech', { key_rotation_days: 7 });
    for (const key of await keys('initech')) assert.equal(Date.parse(key.rotates_at!) - Date.parse(key.activated_at!), 7 * DAY * 1000);
  });

  it('rotates a tenant whose keys are older than its key_rotation_days, and no other', async () => {
    await setOidcConfig('acme', { key_rotation_days: 1 });
    await setOidcConfig('initech', { key_rotation_days: 1 });
    await backdate('acme', 'current', 'activated_at', 2 * DAY);
    await backdate('globex', 'current', 'activated_at', 2 * DAY); // older too, but on the 90-day default
    // initech: one-day schedule, keys fresh
    [acmeBefore, globexBefore, initechBefore] = await Promise.all([keys('acme'), keys('globex'), keys('initech')]);
    for (const key of acmeBefore) assert.ok(Date.parse(key.rotates_at!) < Date.now(), 'acme is overdue');

    const run = await services.keyLifecycle.run('holder-a');
    assert.deepEqual(run, { leader: true, rotated: ['acme'], removed: {} });

    const acme = await keys('acme');
    assert.deepEqual(acme.filter((k) => k.status === 'current').map((k) => k.alg).sort(), ['ES256', 'RS256']);
    assert.deepEqual(kids(acme.filter((k) => k.status === 'retired')), kids(acmeBefore));
    for (const key of acme.filter((k) => k.status === 'current')) assert.ok(!acmeBefore.some((b) => b.kid === key.kid), 'fresh kids');
    assert.deepEqual(await keys('globex'), globexBefore);
    assert.deepEqual(await keys('initech'), initechBefore);
    const audited = await sql<{ actor: string }>(`SELECT actor FROM audit_events WHERE tenant_id = $1 AND action = 'keys.rotated'`, [ids.get('acme')]);
    assert.deepEqual(audited, [{ actor: 'system:key-lifecycle' }]);
  });

  it('publishes the new keys and keeps the retired ones in the JWKS at the issuer', async () => {
    const acme = await keys('acme');
    assert.equal(acme.length, 4);
    assert.deepEqual(kids((await jwks('acme')).keys as { kid: string }[]), kids(acme));
    const fresh = await machineToken();
    const newEs = acme.find((k) => k.status === 'current' && k.alg === 'ES256')!;
    assert.equal(decodeProtectedHeader(fresh).kid, newEs.kid);
    const set = createLocalJWKSet(await jwks('acme'));
    await jwtVerify(fresh, set, { issuer: t.issuer('acme') });
    await jwtVerify(oldToken, set, { issuer: t.issuer('acme') });
  });

  it('does not rotate again: the new keys are not due', async () => {
    const run = await services.keyLifecycle.run('holder-a');
    assert.deepEqual(run.rotated, []);
  });

  it('lists expires_at for retired keys: retirement plus the longest token lifetime plus the margin', async () => {
    await setOidcConfig('acme', { key_rotation_days: 1, access_token_ttl: 600, id_token_ttl: 1200 });
    for (const key of (await keys('acme')).filter((k) => k.status === 'retired')) {
      assert.equal(Date.parse(key.expires_at!) - Date.parse(key.retired_at!), (1200 + RETIRED_KEY_MARGIN_SECONDS) * 1000);
      assert.equal(key.rotates_at, null);
    }
  });

  it('keeps retired keys published until their tokens can have expired', async () => {
    const retention = 1200 + RETIRED_KEY_MARGIN_SECONDS;
    await backdate('acme', 'retired', 'retired_at', retention - 120);
    const run = await services.keyLifecycle.run('holder-a');
    assert.deepEqual(run, { leader: true, rotated: [], removed: {} });
    assert.equal((await keys('acme')).length, 4);
    assert.equal((await jwks('acme')).keys.length, 4);
    await jwtVerify(oldToken, createLocalJWKSet(await jwks('acme')), { issuer: t.issuer('acme') });
  });

  it('then removes them from the keys and the JWKS, and never a current key', async () => {
    await backdate('acme', 'retired', 'retired_at', 240);
    // Current keys created long ago but activated recently: neither due nor removable.
    await backdate('acme', 'current', 'created_at', 400 * DAY);
    const run = await services.keyLifecycle.run('holder-a');
    assert.deepEqual(run.rotated, []);
    assert.deepEqual(run.removed.acme?.sort(), kids(acmeBefore));
    const acme = await keys('acme');
    assert.deepEqual(acme.map((k) => k.status), ['current', 'current']);
    assert.deepEqual(kids((await jwks('acme')).keys as { kid: string }[]), kids(acme));
    await assert.rejects(jwtVerify(oldToken, createLocalJWKSet(await jwks('acme')), { issuer: t.issuer('acme') }), { code: 'ERR_JWKS_NO_MATCHING_KEY' });
    assert.deepEqual(await keys('globex'), globexBefore, 'other tenants untouched');
  });
});

describe('one instance at a time', () => {
  it('two runs racing on one database rotate a due tenant exactly once', async () => {
    await sql('DELETE FROM leases');
    await setOidcConfig('race', { key_rotation_days: 1 });
    await backdate('race', 'current', 'activated_at', 2 * DAY);
    const before = await keys('race');
    const runs = await Promise.all([services.keyLifecycle.run('racer-1'), services.keyLifecycle.run('racer-2')]);
    assert.deepEqual(runs.map((r) => r.leader).sort(), [false, true], 'one leader');
    assert.deepEqual(runs.flatMap((r) => r.rotated), ['race']);
    const after = await keys('race');
    assert.equal(after.length, 4);
    assert.deepEqual(kids(after.filter((k) => k.status === 'retired')), kids(before));
  });

  it('the rotation itself is conditional: two rotations racing without the lease still rotate once', async () => {
    await backdate('race', 'current', 'activated_at', 2 * DAY);
    const id = ids.get('race')!;
    const results = await Promise.all([1, 2].map(() => runAsTenant(id, () => services.keys.rotateIfDue(id, DAY))));
    assert.deepEqual(results.sort(), [false, true]);
    const after = await keys('race');
    assert.equal(after.filter((k) => k.status === 'current').length, 2);
    assert.equal(after.filter((k) => k.status === 'retired').length, 4);
  });

  it('the holder keeps its lease; another takes it over only once it has expired', async () => {
    const holder = (await sql<{ holder: string }>('SELECT holder FROM leases WHERE name = $1', [KEY_LIFECYCLE_LEASE]))[0]?.holder;
    assert.ok(holder === 'racer-1' || holder === 'racer-2', String(holder));
    const other = holder === 'racer-1' ? 'racer-2' : 'racer-1';
    assert.equal((await services.keyLifecycle.run(other)).leader, false);
    assert.equal((await services.keyLifecycle.run(holder)).leader, true, 'the holder renews');
    // The holder dies: it stops renewing and its lease runs out.
    await sql(`UPDATE leases SET expires_at = now() - interval '1 second' WHERE name = $1`, [KEY_LIFECYCLE_LEASE]);
    assert.equal((await services.keyLifecycle.run(other)).leader, true, 'taken over');
    assert.equal((await services.keyLifecycle.run(holder)).leader, false, 'the old holder has lost it');
    assert.deepEqual(await sql('SELECT holder FROM leases'), [{ holder: other }]);
  });

  it('the timer runs the job on its own and stop() gives the lease up', async () => {
    await sql('DELETE FROM leases');
    await setOidcConfig('tick', { key_rotation_days: 1 });
    await backdate('tick', 'current', 'activated_at', 2 * DAY);
    const before = kids(await keys('tick'));
    const job = new KeyLifecycle({ db: services.db, keys: services.keys, tenants: services.tenants, audit: services.audit, log: services.log, policy: () => services.platformConfig.current() }, { intervalMs: 50, holder: 'ticker' }).start();
    try {
      const deadline = Date.now() + 10_000;
      while (kids(await keys('tick')).length === before.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const after = await keys('tick');
      assert.deepEqual(kids(after.filter((k) => k.status === 'retired')), before);
      assert.deepEqual(await sql('SELECT holder FROM leases'), [{ holder: 'ticker' }]);
    } finally {
      await job.stop();
    }
    assert.deepEqual(await sql('SELECT holder FROM leases'), []);
  });
});
