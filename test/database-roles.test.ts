/**
 * The split database login (issue 18 item 6): Atrium runs on a runtime login that owns
 * nothing (DATABASE_URL) and migrates with the owner (DATABASE_MIGRATION_URL). Whatever SQL
 * that runtime login sends — SET ROLE, RESET ROLE, set_config of the tenant setting, a look
 * at the other connections — it reads no tenant's rows but those of a context the
 * application itself opened. Needs a PostgreSQL server (DATABASE_URL); skipped on PGlite,
 * which has one user only (see README, "Database roles").
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture } from './support/fixtures.ts';
import { runAsTenant } from '../src/core/request-context.ts';

const serverUrl = testServerUrl();

describe('a runtime login that owns nothing', { skip: serverUrl ? false : 'needs DATABASE_URL (PostgreSQL)' }, () => {
  let t: TestAtrium;
  let database: { url: string; drop: () => Promise<void> };
  let runtimeUrl: string;
  const role = `atrium_rt_${randomBytes(5).toString('hex')}`;
  const password = randomBytes(18).toString('base64url');
  let acmeId: string;
  let globexId: string;

  async function asOwner<T>(fn: (c: pg.Client) => Promise<T>, url = serverUrl!): Promise<T> {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  /** A connection as the runtime login, as SQL injected anywhere in Atrium would have it. */
  async function asRuntime<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
    return asOwner(fn, runtimeUrl);
  }

  /** Runs `sql` as the runtime login; the rows, or the error message. */
  async function attempt(statements: string[]): Promise<{ rows?: Record<string, unknown>[]; error?: string }> {
    return asRuntime(async (c) => {
      try {
        let last: pg.QueryResult | undefined;
        for (const sql of statements) last = await c.query(sql);
        return { rows: last?.rows ?? [] };
      } catch (err) {
        return { error: (err as Error).message };
      }
    });
  }

  /** No rows of another tenant than `allowed` (none at all when undefined) came back. */
  function assertNoForeignRows(result: { rows?: Record<string, unknown>[]; error?: string }, what: string, allowed?: string) {
    const foreign = (result.rows ?? []).filter((r) => r.tenant_id !== allowed);
    assert.deepEqual(foreign, [], `${what}: read ${foreign.length} rows of another tenant`);
  }

  before(async () => {
    database = await createTestDatabase(serverUrl!);
    await asOwner(async (c) => {
      // The roles Atrium's migrations create are cluster-wide; make sure they exist before granting them.
      for (const r of ['atrium_app', 'atrium_platform']) await c.query(`DO $$ BEGIN CREATE ROLE ${r} NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$`);
      await c.query(`CREATE ROLE ${role} LOGIN NOINHERIT PASSWORD '${password}'`);
      await c.query(`GRANT atrium_app, atrium_platform TO ${role}`);
    });
    const url = new URL(database.url);
    url.username = role;
    url.password = password;
    runtimeUrl = url.toString();
    t = await startTestAtrium({ DATABASE_URL: runtimeUrl, DATABASE_MIGRATION_URL: database.url }, { databaseUrl: runtimeUrl });
    await createTenantFixture(t, 'acme');
    await createTenantFixture(t, 'globex');
    acmeId = (await t.atrium.services.tenantStore.findBySlug('acme'))!.id;
    globexId = (await t.atrium.services.tenantStore.findBySlug('globex'))!.id;
  });
  after(async () => {
    await t?.stop();
    await database?.drop();
    await asOwner((c) => c.query(`DROP ROLE IF EXISTS ${role}`)).catch(() => {});
  });

  it('Atrium serves on it: the tenants were created and their users are there, each in its own context', async () => {
    const users = t.atrium.services.users;
    const acme = await runAsTenant(acmeId, () => users.list({ limit: 10, offset: 0 }));
    const globex = await runAsTenant(globexId, () => users.list({ limit: 10, offset: 0 }));
    assert.ok(acme.total > 0 && globex.total > 0);
    const acmeEmails = new Set(acme.users.map((u) => u.email));
    assert.ok(globex.users.every((u) => !acmeEmails.has(u.email)), "globex's context lists none of acme's users");
  });

  it('the runtime login owns no table and is neither superuser nor BYPASSRLS nor a member of the owner', async () => {
    const facts = await asRuntime(async (c) => (await c.query(`SELECT r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolinherit,
        pg_has_role(current_user, (SELECT tableowner FROM pg_tables WHERE tablename = 'users' AND schemaname = 'public'), 'MEMBER') AS owner_member,
        (SELECT count(*) FROM pg_tables WHERE tableowner = current_user)::int AS owned
      FROM pg_roles r WHERE r.rolname = current_user`)).rows[0]);
    assert.deepEqual(facts, { rolsuper: false, rolbypassrls: false, rolcreaterole: false, rolinherit: false, owner_member: false, owned: 0 });
  });

  it('as itself (RESET ROLE), it has no privilege on any tenant table', async () => {
    for (const table of ['users', 'oidc_clients', 'signing_keys', 'tenants', 'audit_events']) {
      const result = await attempt(['RESET ROLE', `SELECT * FROM ${table}`]);
      assert.match(result.error ?? 'read rows', /permission denied/, table);
    }
  });

  it('cannot become the owner or a superuser', async () => {
    const owner = await asOwner(async (c) => (await c.query(`SELECT tableowner FROM pg_tables WHERE tablename = 'users'`)).rows[0].tableowner as string, database.url);
    for (const target of [owner, 'postgres', 'pg_read_all_data', 'pg_write_all_data']) {
      const result = await attempt([`SET ROLE "${target}"`, 'SELECT tenant_id FROM users']);
      assert.match(result.error ?? 'switched', /permission denied|must be member|does not exist/, target);
    }
    assert.match((await attempt(['SET SESSION AUTHORIZATION postgres'])).error ?? 'switched', /permission denied/);
    assert.match((await attempt(['SET ROLE atrium_app', 'ALTER TABLE users DISABLE ROW LEVEL SECURITY'])).error ?? 'altered', /owner|permission/);
  });

  it("raw set_config of another tenant's id reads none of its rows", async () => {
    for (const table of ['users', 'oidc_clients', 'signing_keys', 'tenants']) {
      const idColumn = table === 'tenants' ? 'id AS tenant_id' : 'tenant_id';
      const result = await attempt(['BEGIN', 'SET LOCAL ROLE atrium_app', `SELECT set_config('app.tenant_id', '${globexId}', true)`, `SELECT ${idColumn} FROM ${table}`]);
      assertNoForeignRows(result, `set_config + ${table}`);
      const session = await attempt(['SET ROLE atrium_app', `SET app.tenant_id = '${globexId}'`, `SELECT ${idColumn} FROM ${table}`]);
      assertNoForeignRows(session, `SET app.tenant_id + ${table}`);
    }
    // Writing into another tenant is refused as well.
    const insert = await attempt(['BEGIN', 'SET LOCAL ROLE atrium_app', `SELECT set_config('app.tenant_id', '${globexId}', true)`,
      `INSERT INTO users (tenant_id, id, email) VALUES ('${globexId}', gen_random_uuid(), 'intruder@example.test')`]);
    assert.match(insert.error ?? 'inserted', /row-level security/);
  });

  it('SET ROLE atrium_platform (the cross-tenant role) reads nothing without the context the application opens', async () => {
    for (const table of ['users', 'oidc_clients', 'signing_keys', 'oidc_payloads', 'tenants', 'retired_slugs', 'leases']) {
      const idColumn = table === 'tenants' ? 'id AS tenant_id' : table === 'leases' ? 'name AS tenant_id' : table === 'retired_slugs' ? 'tenant_id' : 'tenant_id';
      const result = await attempt(['SET ROLE atrium_platform', `SELECT ${idColumn} FROM ${table}`]);
      assertNoForeignRows(result, `atrium_platform + ${table}`);
      const guessed = await attempt(['SET ROLE atrium_platform', `SELECT set_config('app.context_proof', '${'0'.repeat(64)}', false)`, `SELECT ${idColumn} FROM ${table}`]);
      assertNoForeignRows(guessed, `atrium_platform + guessed proof + ${table}`);
    }
  });

  it("cannot read the key that binds contexts, nor learn another tenant's context from the other connections", async () => {
    assert.match((await attempt(['SELECT * FROM atrium_context_key'])).error ?? 'read', /permission denied/);
    assert.match((await attempt(['SET ROLE atrium_platform', 'SELECT * FROM atrium_context_key'])).error ?? 'read', /permission denied/);
    // While Atrium holds a transaction open in globex's context, its connection's statement text carries no proof.
    const seen = await runAsTenant(globexId, () =>
      t.atrium.services.db.withTenant(async () =>
        asRuntime(async (c) => (await c.query<{ query: string }>(`SELECT query FROM pg_stat_activity WHERE usename = current_user AND pid <> pg_backend_pid()`)).rows.map((r) => r.query)),
      ),
    );
    assert.ok(seen.length > 0, 'the open transaction is visible to the runtime login');
    const proof = await runAsTenant(globexId, () => t.atrium.services.db.withTenant(async (q) => (await q.query<{ p: string }>(`SELECT current_setting('app.context_proof') AS p`)).rows[0]!.p));
    assert.ok(proof.length >= 32);
    for (const text of seen) assert.ok(!text.includes(proof), `another connection's statement shows the proof: ${text}`);
    // And the proof learnt in globex's own context does not open acme's rows.
    const replay = await attempt(['BEGIN', 'SET LOCAL ROLE atrium_app', `SELECT set_config('app.tenant_id', '${acmeId}', true)`, `SELECT set_config('app.context_proof', '${proof}', true)`, 'SELECT tenant_id FROM users']);
    assertNoForeignRows(replay, "globex's proof with acme's id");
  });
});
