/**
 * The users and clients lists page by cursor (issue 15, item 5): walking a list of thousands
 * by `next_cursor` returns every row once, in order, even rows created in the same
 * microsecond; the last page reads about as many rows as the first (EXPLAIN ANALYZE), where
 * offset paging reads every row before it; a cursor that is not one, or that comes from
 * another tenant's list, is a 400 naming `cursor` that reveals nothing of the other tenant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { USER_LIST_QUERIES } from '../src/accounts/user-store.ts';
import { CLIENT_LIST_QUERIES } from '../src/oidc/client-store.ts';
import { encodeListCursor } from '../src/storage/list-cursor.ts';
import { signInToConsole } from './support/console.ts';

const BULK = 3_000;
const LIMIT = 50;
let t: TestAtrium;
const ids: Record<'acme' | 'globex', string> = { acme: '', globex: '' };

before(async () => {
  t = await startTestAtrium();
  for (const slug of ['acme', 'globex'] as const) {
    const res = await t.api('POST', '/tenants', { slug, name: slug });
    assert.equal(res.status, 201);
    ids[slug] = res.body.id;
  }
  // Rows only, straight into the tables: thousands through the API would take minutes. Groups
  // of four share a created_at, and the groups are a microsecond apart (the same millisecond):
  // paging must tell them apart by id.
  await runAsTenant(ids.acme, () =>
    t.atrium.services.db.withTenant(async (q) => {
      await q.query(`INSERT INTO users (tenant_id, id, email, name, created_at)
        SELECT atrium_current_tenant(), gen_random_uuid(), 'bulk-' || i || '@acme.test', 'Bulk ' || i, '2026-01-01T00:00:00Z'::timestamptz + (i / 4) * interval '1 microsecond'
        FROM generate_series(1, ${BULK}) AS i`);
      await q.query(`INSERT INTO oidc_clients (tenant_id, client_id, metadata, created_at)
        SELECT atrium_current_tenant(), 'bulk-client-' || lpad(i::text, 5, '0'), jsonb_build_object('client_id', 'bulk-client-' || lpad(i::text, 5, '0'), 'client_name', 'Bulk ' || i, 'redirect_uris', '[]'::jsonb, 'grant_types', '["client_credentials"]'::jsonb, 'response_types', '[]'::jsonb),
               '2026-01-01T00:00:00Z'::timestamptz + (i / 4) * interval '1 microsecond'
        FROM generate_series(1, ${BULK}) AS i`);
    }),
  );
  // As the owner (the runtime roles may not ANALYZE): the planner's statistics, as autovacuum
  // would have them.
  await t.atrium.services.db.driver.exec('ANALYZE users; ANALYZE oidc_clients');
  assert.equal((await t.api('POST', '/tenants/globex/users', { email: 'only@globex.test', password: 'globex-password-1234' })).status, 201);
});
after(() => t?.stop());

/** Walks a list by next_cursor; returns every item and the last page's request. */
async function walk(path: string, key: 'users' | 'clients', limit = 200): Promise<{ items: Record<string, unknown>[]; pages: number; total: number }> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  let pages = 0;
  let total: number;
  do {
    const res = await t.api('GET', `${path}${path.includes('?') ? '&' : '?'}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(!('offset' in res.body) || !cursor, 'an answer to a cursor carries no offset');
    items.push(...(res.body[key] as Record<string, unknown>[]));
    cursor = res.body.next_cursor;
    total = res.body.total;
    pages++;
  } while (cursor);
  return { items, pages, total };
}

describe('users and clients lists by cursor', () => {
  it('walks thousands of users once each, in creation order, rows of the same microsecond included', async () => {
    const { items, pages, total } = await walk('/tenants/acme/users', 'users');
    assert.equal(total, BULK);
    assert.equal(items.length, BULK);
    assert.equal(pages, BULK / 200);
    assert.equal(new Set(items.map((u) => u.id)).size, BULK);
    // Creation order: bulk-1..3 share the first microsecond, then groups of four.
    const group = (u: Record<string, unknown>) => Math.floor(Number(/bulk-(\d+)@/.exec(u.email as string)![1]) / 4);
    for (let i = 1; i < items.length; i++) assert.ok(group(items[i - 1]!) <= group(items[i]!), `out of order at ${i}`);
  });

  it('walks clients the same way, and the older offset paging still answers with offset', async () => {
    const { items, total } = await walk('/tenants/acme/clients', 'clients');
    assert.equal(total, BULK);
    assert.equal(new Set(items.map((c) => c.client_id)).size, BULK);
    const byOffset = await t.api('GET', `/tenants/acme/clients?limit=${LIMIT}&offset=${BULK - LIMIT}`);
    assert.equal(byOffset.status, 200);
    assert.equal(byOffset.body.offset, BULK - LIMIT);
    assert.equal(byOffset.body.next_cursor, null);
    assert.deepEqual(byOffset.body.clients.map((c: { client_id: string }) => c.client_id), items.slice(-LIMIT).map((c) => c.client_id));
  });

  it('pages a search by cursor', async () => {
    const { items, total } = await walk('/tenants/acme/users?search=bulk-1', 'users', 100);
    const expected = Array.from({ length: BULK }, (_, i) => i + 1).filter((i) => String(i).startsWith('1')).length;
    assert.equal(total, expected);
    assert.equal(items.length, expected);
  });

  it('refuses a cursor it did not give, cursor with offset, and parameters a list does not take: 400 naming them', async () => {
    const cases: [string, RegExp][] = [
      ['/tenants/acme/users?cursor=bm90LWEtY3Vyc29y', /^cursor: /],
      // A well-formed users cursor is not a clients cursor.
      [`/tenants/acme/clients?cursor=${encodeListCursor('users', ids.acme, 'after', { us: '1', key: '00000000-0000-4000-8000-000000000000' })}`, /^cursor: /],
      ['/tenants/acme/users?cursor=abc&offset=5', /cursor, offset/],
      ['/tenants/acme/clients?search=bulk', /search/],
      ['/tenants/acme/users?page=2', /page/],
    ];
    for (const [path, description] of cases) {
      const res = await t.api('GET', path);
      assert.equal(res.status, 400, `${path}: ${JSON.stringify(res.body)}`);
      assert.match(res.body.error_description, description, path);
      assert.ok(res.body.correlation_id);
    }
  });

  it("a cursor of acme's list used at globex is refused and reveals nothing of acme", async () => {
    for (const [path, key] of [['/tenants/acme/users?limit=5', 'users'], ['/tenants/acme/clients?limit=5', 'clients']] as const) {
      const page = await t.api('GET', path);
      const cursor = page.body.next_cursor as string;
      assert.ok(cursor);
      const res = await t.api('GET', `/tenants/globex/${key}?limit=5&cursor=${cursor}`);
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error, 'invalid_cursor');
      assert.match(res.body.error_description, /^cursor: /);
      assert.doesNotMatch(JSON.stringify(res.body), /bulk|acme/);
    }
  });
});

describe('/admin users and clients pages by cursor', () => {
  const admin = { email: 'admin@acme.test', password: 'admin-password-long-enough' };
  let browser: Awaited<ReturnType<typeof signInToConsole>>['browser'];
  const get = async (path: string) => {
    const res = await browser.request(`${t.issuer('acme')}${path}`);
    return { status: res.status, html: await res.text() };
  };
  const link = (html: string, rel: 'next' | 'prev') => new RegExp(`href="([^"]+)" rel="${rel}"`).exec(html)?.[1]?.replaceAll('&amp;', '&');
  const clientIds = (html: string) => [...new Set([...html.matchAll(/bulk-client-\d{5}/g)].map((m) => m[0]))];

  before(async () => {
    assert.equal((await t.api('POST', '/tenants/acme/users', { ...admin, roles: ['admin'], email_verified: true })).status, 201);
    ({ browser } = await signInToConsole(t.issuer('acme'), admin, '/admin/clients'));
  });

  it('next and previous links walk the clients without repeats, and come back to the same page', async () => {
    const pages: string[][] = [];
    let path: string | undefined = '/admin/clients';
    for (let i = 0; i < 3 && path; i++) {
      const page = await get(path);
      assert.equal(page.status, 200);
      pages.push(clientIds(page.html));
      path = link(page.html, 'next');
    }
    assert.deepEqual(pages.map((p) => p.length), [25, 25, 25]);
    assert.equal(new Set(pages.flat()).size, 75);
    assert.deepEqual(pages.flat(), Array.from({ length: 75 }, (_, i) => `bulk-client-${String(i + 1).padStart(5, '0')}`));
    const third = await get(link((await get(link((await get('/admin/clients')).html, 'next')!)).html, 'next')!);
    const backToSecond = await get(link(third.html, 'prev')!);
    assert.deepEqual(clientIds(backToSecond.html), pages[1]);
    assert.match(third.html, new RegExp(`${BULK} in all`));
  });

  it('a bad cursor, or one of another tenant, is a 400 that shows nothing of the other tenant', async () => {
    const bad = await get('/admin/users?cursor=nope');
    assert.equal(bad.status, 400);
    assert.match(bad.html, /cursor/);
    const foreign = encodeListCursor('users', ids.globex, 'after', { us: '1', key: '00000000-0000-4000-8000-000000000000' });
    const res = await get(`/admin/users?cursor=${foreign}`);
    assert.equal(res.status, 400);
    assert.doesNotMatch(res.html, /globex/);
  });
});

describe('users and clients list paging at scale (EXPLAIN ANALYZE)', () => {
  /** Rows the plan's scans of `table` produced or filtered away, as the API runs the statement in acme. */
  async function rowsRead(table: string, sql: string, params: unknown[]): Promise<number> {
    const explained = await runAsTenant(ids.acme, () => t.atrium.services.db.withTenant((q) => q.query<{ 'QUERY PLAN': unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${sql}`, params)));
    const raw = explained.rows[0]!['QUERY PLAN'];
    const [root] = (typeof raw === 'string' ? JSON.parse(raw) : raw) as [{ Plan: PlanNode }];
    let rows = 0;
    const visit = (node: PlanNode) => {
      if (node['Relation Name'] === table) rows += node['Actual Rows'] * node['Actual Loops'] + (node['Rows Removed by Filter'] ?? 0);
      for (const child of node.Plans ?? []) visit(child);
    };
    visit(root.Plan);
    return rows;
  }

  /** The position the last page starts after, as the store reads it. */
  async function positionBeforeLast(table: 'users' | 'oidc_clients', key: string): Promise<[string, string]> {
    const res = await runAsTenant(ids.acme, () =>
      t.atrium.services.db.withTenant((q) =>
        q.query<{ us: string; key: string }>(`SELECT (extract(epoch FROM created_at) * 1000000)::bigint::text AS us, ${key}::text AS key FROM ${table} ORDER BY created_at, ${key} OFFSET ${BULK - LIMIT - 1} LIMIT 1`),
      ),
    );
    return [res.rows[0]!.us, res.rows[0]!.key];
  }

  it('users: the last page by cursor reads about what the first does; by offset, every row before it', async () => {
    const first = await rowsRead('users', USER_LIST_QUERIES.after, [null, LIMIT + 1, 0, null, null]);
    const last = await rowsRead('users', USER_LIST_QUERIES.after, [null, LIMIT + 1, 0, ...(await positionBeforeLast('users', 'id'))]);
    const previous = await rowsRead('users', USER_LIST_QUERIES.before, [null, LIMIT + 1, 0, ...(await positionBeforeLast('users', 'id'))]);
    const byOffset = await rowsRead('users', USER_LIST_QUERIES.after, [null, LIMIT + 1, BULK - LIMIT, null, null]);
    assert.ok(first <= LIMIT + 1, `first page read ${first} rows`);
    assert.ok(last <= 2 * (LIMIT + 1), `last page by cursor read ${last} rows (first: ${first})`);
    assert.ok(previous <= 2 * (LIMIT + 1), `the page before it read ${previous} rows`);
    assert.ok(byOffset >= BULK - LIMIT, `by offset: ${byOffset} rows, the measure sees the scan`);
  });

  it('clients: the same', async () => {
    const first = await rowsRead('oidc_clients', CLIENT_LIST_QUERIES.after, [LIMIT + 1, 0, null, null]);
    const last = await rowsRead('oidc_clients', CLIENT_LIST_QUERIES.after, [LIMIT + 1, 0, ...(await positionBeforeLast('oidc_clients', 'client_id'))]);
    const byOffset = await rowsRead('oidc_clients', CLIENT_LIST_QUERIES.after, [LIMIT + 1, BULK - LIMIT, null, null]);
    assert.ok(first <= LIMIT + 1, `first page read ${first} rows`);
    assert.ok(last <= 2 * (LIMIT + 1), `last page by cursor read ${last} rows (first: ${first})`);
    assert.ok(byOffset >= BULK - LIMIT, `by offset: ${byOffset} rows`);
  });
});

interface PlanNode {
  'Relation Name'?: string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  Plans?: PlanNode[];
}
