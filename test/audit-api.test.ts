/**
 * GET /api/v1/tenants/:slug/audit: events from sign-in and admin changes, filters, stable
 * keyset paging, isolation between tenants, scopes; and the retention sweep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import * as oidc from 'openid-client';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { assertApiError } from './support/api-assertions.ts';
import { createTenantFixture, discover, REDIRECT_URI, SignInRefused, signInThroughPages, type TenantFixture } from './support/fixtures.ts';
import { sweepExpiredAuditEvents } from '../src/audit/audit-retention.ts';

interface Event {
  id: string;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  outcome: string;
  ip: string | null;
  user_agent: string | null;
  correlation_id: string | null;
  details: Record<string, unknown>;
}

let t: TestAtrium;
let acme: TenantFixture;
let globex: TenantFixture;
before(async () => {
  t = await startTestAtrium();
  acme = await createTenantFixture(t, 'acme');
  globex = await createTenantFixture(t, 'globex');
});
after(() => t?.stop());

async function audit(slug: string, query = ''): Promise<{ events: Event[]; next_cursor: string | null }> {
  const res = await t.api('GET', `/tenants/${slug}/audit${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

async function all(slug: string, query = ''): Promise<Event[]> {
  return (await audit(slug, `?limit=200${query}`)).events;
}

/** Inserts events directly, `ageMs` in the past (same instant for all, to exercise the id tie-break). */
async function insertEvents(slug: string, n: number, options: { action?: string; at?: Date } = {}): Promise<string[]> {
  const tenant = (await t.atrium.services.tenantStore.findBySlug(slug))!;
  const ids = Array.from({ length: n }, () => randomUUID());
  await t.atrium.services.db.crossTenant('test: insert audit events', async (q) => {
    for (const id of ids) {
      await q.query('INSERT INTO audit_events (tenant_id, id, at, action) VALUES ($1, $2, $3, $4)', [tenant.id, id, options.at ?? new Date(), options.action ?? 'test.event']);
    }
  });
  return ids;
}

describe('audit API', () => {
  it('shows sign-ins, failures and admin changes of the tenant, newest first, with every field', async () => {
    const config = await discover(acme.issuer, acme.clientId, acme.clientSecret);
    const url = () => oidc.buildAuthorizationUrl(config, { redirect_uri: REDIRECT_URI, scope: 'openid', code_challenge: 'a'.repeat(43), code_challenge_method: 'S256' });
    await assert.rejects(signInThroughPages(url(), { email: acme.email, password: 'wrong-password-here' }), SignInRefused);
    await signInThroughPages(url(), acme);

    const events = await all('acme');
    const actions = events.map((e) => `${e.action}:${e.outcome}`);
    for (const expected of ['client.created:success', 'user.created:success', 'user.sign_in:failure', 'user.sign_in:success']) {
      assert.ok(actions.includes(expected), `missing ${expected} in ${actions.join(', ')}`);
    }
    const signIn = events.find((e) => e.action === 'user.sign_in' && e.outcome === 'success')!;
    assert.deepEqual(Object.keys(signIn).sort(), ['action', 'actor', 'at', 'correlation_id', 'details', 'id', 'ip', 'outcome', 'target', 'user_agent']);
    assert.equal(signIn.actor, acme.userId);
    assert.ok(signIn.ip && signIn.correlation_id && typeof signIn.details === 'object');
    assert.equal(new Date(signIn.at).toISOString(), signIn.at);
    const created = events.find((e) => e.action === 'user.created')!;
    assert.equal(created.actor, 'client:platform-test');
    assert.equal(created.target, acme.userId);
    for (let i = 1; i < events.length; i++) assert.ok(events[i - 1]!.at >= events[i]!.at, 'newest first');
  });

  it("never shows another tenant's events", async () => {
    await insertEvents('globex', 3, { action: 'test.globex_only' });
    const acmeEvents = await all('acme');
    const globexEvents = await all('globex');
    assert.ok(acmeEvents.length > 0 && globexEvents.length > 0);
    const acmeIds = new Set(acmeEvents.map((e) => e.id));
    assert.ok(!globexEvents.some((e) => acmeIds.has(e.id)));
    assert.ok(!acmeEvents.some((e) => e.action === 'test.globex_only' || e.target === globex.userId || e.target === globex.clientId));
    assert.ok(globexEvents.some((e) => e.target === globex.userId));
    assert.ok(!globexEvents.some((e) => e.target === acme.userId || e.actor === acme.userId));
    assert.deepEqual(await all('acme', '&action=test.globex_only'), []);
  });

  it('filters by action, actor, outcome, since and until', async () => {
    const failures = await all('acme', '&action=user.sign_in&outcome=failure');
    assert.ok(failures.length >= 1);
    assert.ok(failures.every((e) => e.action === 'user.sign_in' && e.outcome === 'failure'));
    const byUser = await all('acme', `&actor=${acme.userId}`);
    assert.ok(byUser.length >= 1 && byUser.every((e) => e.actor === acme.userId));
    const byClient = await all('acme', '&actor=client:platform-test&action=client.created');
    assert.equal(byClient.length, 3);

    const old = new Date(Date.now() - 10 * 86_400_000);
    await insertEvents('acme', 2, { action: 'test.old', at: old });
    const cut = new Date(old.getTime() + 1000).toISOString();
    const before = await all('acme', `&until=${encodeURIComponent(cut)}`);
    assert.deepEqual([...new Set(before.map((e) => e.action))], ['test.old']);
    const since = await all('acme', `&since=${encodeURIComponent(cut)}`);
    assert.ok(since.length > 0 && !since.some((e) => e.action === 'test.old'));
    // since is inclusive, until exclusive.
    assert.equal((await all('acme', `&since=${encodeURIComponent(old.toISOString())}&until=${encodeURIComponent(cut)}`)).length, 2);
    assert.equal((await all('acme', `&until=${encodeURIComponent(old.toISOString())}`)).length, 0);
    assert.deepEqual(await all('acme', '&since=2999-01-01T00:00:00Z'), []);
    assert.deepEqual(await all('acme', '&outcome=failure&action=client.created'), []);
  });

  it('pages with a stable cursor, even while new events arrive', async () => {
    await insertEvents('acme', 25, { action: 'test.page', at: new Date(Date.now() - 60_000) });
    const expected = (await all('acme', '&action=test.page')).map((e) => e.id);
    assert.equal(expected.length, 25);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { events: Event[]; next_cursor: string | null } = await audit('acme', `?action=test.page&limit=7${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.events.map((e) => e.id));
      cursor = page.next_cursor;
      // New events in between never shift or repeat later pages.
      if (pages++ === 0) await insertEvents('acme', 3, { action: 'test.page' });
    } while (cursor);
    assert.equal(pages, 4);
    assert.deepEqual(seen, expected);

    // Without filters too: limit+cursor walks every event exactly once.
    const everything = (await all('acme')).map((e) => e.id);
    const walked: string[] = [];
    cursor = null;
    do {
      const page: { events: Event[]; next_cursor: string | null } = await audit('acme', `?limit=10${cursor ? `&cursor=${cursor}` : ''}`);
      walked.push(...page.events.map((e) => e.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepEqual(walked, everything);
  });

  it('answers 400 for bad query parameters, 403 without atrium:cross-tenant:read, 404 for an unknown tenant', async () => {
    for (const q of ['limit=0', 'limit=201', 'limit=x', 'outcome=maybe', 'since=yesterday', 'until=2024-13-01T00:00:00Z', 'cursor=bm9wZQ', 'cursor=' + Buffer.from(`1.${randomUUID()}x`).toString('base64url'), 'unknown=1']) {
      assertApiError(await t.api('GET', `/tenants/acme/audit?${q}`), 400, undefined);
    }
    const token = await t.platformToken('atrium:tenants:read atrium:tenants:write atrium:cross-tenant:write');
    assertApiError(await t.api('GET', '/tenants/acme/audit', undefined, token), 403, 'insufficient_scope');
    assertApiError(await t.api('GET', '/tenants/nope/audit'), 404, 'not_found');
    assert.equal((await t.api('GET', '/tenants/acme/audit', undefined, await t.platformToken('atrium:cross-tenant:read'))).status, 200);
  });
});

describe('audit retention', () => {
  it("deletes events older than each tenant's security.audit_retention_days (default 365, bounded 1..3650)", async () => {
    const { tenantStore, db } = t.atrium.services;
    const days = (n: number) => new Date(Date.now() - n * 86_400_000);
    for (const [slug, retention] of [['ret-30', 30], ['ret-zero', 0], ['ret-huge', 99_999], ['ret-default', undefined], ['ret-bogus', 'forever']] as const) {
      assert.equal((await t.api('POST', '/tenants', { slug, name: slug })).status, 201);
      if (retention !== undefined) {
        const tenant = (await tenantStore.findBySlug(slug))!;
        await tenantStore.updateConfigSection(tenant.id, 'security', { audit_retention_days: retention });
      }
    }
    const kept: string[] = [];
    const gone: string[] = [];
    const add = async (slug: string, ageDays: number, keep: boolean) => (keep ? kept : gone).push(...(await insertEvents(slug, 1, { at: days(ageDays) })));
    await add('ret-30', 31, false);
    await add('ret-30', 29, true);
    await add('ret-zero', 1.1, false); // bounded up to 1 day
    await add('ret-zero', 0.5, true);
    await add('ret-huge', 3651, false); // bounded down to 3650 days
    await add('ret-huge', 3000, true);
    await add('ret-default', 366, false);
    await add('ret-default', 364, true);
    await add('ret-bogus', 366, false); // not a number: the default
    await add('ret-bogus', 364, true);
    await add('acme', 400, false);

    // Small batches: the sweep repeats until a batch is not full.
    const deleted = await sweepExpiredAuditEvents(db, { batch: 2 });
    assert.equal(deleted, gone.length);
    const remaining = await db.crossTenant('test: read audit ids', async (q) => new Set((await q.query<{ id: string }>('SELECT id FROM audit_events')).rows.map((r) => r.id)));
    for (const id of gone) assert.ok(!remaining.has(id), `${id} should be deleted`);
    for (const id of kept) assert.ok(remaining.has(id), `${id} should be kept`);
    // Recent events of every tenant are untouched.
    assert.ok((await all('acme', '&action=user.created')).length === 1);
    assert.equal(await sweepExpiredAuditEvents(db), 0);
  });
});
