/**
 * Atrium behind PgBouncer in transaction pooling mode (issue 16, item 2): a private bouncer
 * (test/support/pgbouncer.ts) with two server connections in front of this test's own
 * database. In transaction mode any state a transaction leaves on its server connection
 * reaches another client's next transaction, so the rules are: only transaction-scoped
 * locks and settings, no LISTEN, and named prepared statements only where the bouncer keeps
 * them (1.21+ with max_prepared_statements; this is 1.18, so DATABASE_PREPARED_STATEMENTS=false,
 * as README says). The instance that is not told falls back by itself (last test).
 * CI also runs the isolation, OIDC-flow and multi-instance tests through a bouncer
 * (ATRIUM_TEST_PGBOUNCER=1, .ci/run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { globSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import pg from 'pg';
import * as oidc from 'openid-client';
import { createTestDatabase, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, discover, type TenantFixture } from './support/fixtures.ts';
import { pgbouncerMissing, startPgBouncer, type PgBouncer } from './support/pgbouncer.ts';

const serverUrl = testServerUrl();
const skip = !serverUrl ? 'needs DATABASE_URL (PostgreSQL)' : pgbouncerMissing() ?? false;

describe('the code uses no session-level PostgreSQL feature', () => {
  // What transaction pooling cannot carry, as it would be written in our SQL or driver calls.
  const SESSION_FEATURES: [RegExp, string][] = [
    [/pg_(try_)?advisory_lock(_shared)?\s*\(/i, 'a session advisory lock (use pg_advisory_xact_lock)'],
    [/\bLISTEN\s+\w/, 'LISTEN'],
    [/['"`]\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|\sTO\s)/i, 'a session SET (use SET LOCAL or set_config(…, true))'],
    [/set_config\([^()]*,\s*false\s*\)/i, 'set_config(…, false), a session setting'],
    [/\bPREPARE\s+\w+\s*(\(|AS)/i, 'a named prepared statement'],
    [/\.query\(\s*\{[^}]*\bname\s*:/, 'a named prepared statement (pg query config with name)'],
    [/WITH\s+HOLD/i, 'a cursor held past its transaction'],
    [/CREATE\s+(TEMP|TEMPORARY)\s+TABLE/i, 'a temporary table (session-scoped)'],
  ];

  // The one place that names statements, and only with DATABASE_PREPARED_STATEMENTS on (storage/statement-names.ts).
  const NAMING_DRIVER = 'src/storage/pg-driver.ts';

  it('has no session advisory lock, session SET, LISTEN, named prepared statement (but the driver\'s own, behind its setting), held cursor or temp table in src/', () => {
    const found: string[] = [];
    for (const file of [...globSync('src/**/*.ts'), ...globSync('src/storage/migrations/*.sql')]) {
      if (file.endsWith('.test.ts')) continue;
      const text = readFileSync(file, 'utf8');
      for (const [pattern, what] of SESSION_FEATURES) if (pattern.test(text) && !(file === NAMING_DRIVER && what.startsWith('a named prepared statement (pg'))) found.push(`${file}: ${what}`);
      // A migration is a script: a SET statement there is a line of its own.
      if (file.endsWith('.sql') && /^\s*SET\s+(?!LOCAL\b)(SESSION\s+)?[a-z_.]+\s*(=|\sTO\s)/im.test(text)) found.push(`${file}: a session SET`);
    }
    assert.deepEqual(found, []);
  });

  it('the scan itself recognises each feature (so an empty result means something)', () => {
    const samples = ["SELECT pg_advisory_lock(1)", 'LISTEN tenant_events', "'SET search_path = x'", "set_config('app.tenant_id', $1, false)", 'PREPARE q AS SELECT 1', "client.query({ name: 'q', text: 'x' })", 'DECLARE c CURSOR WITH HOLD FOR', 'CREATE TEMP TABLE x ()'];
    for (const [i, [pattern]] of SESSION_FEATURES.entries()) assert.match(samples[i]!, pattern);
    for (const ok of ["'SET LOCAL statement_timeout = 1'", "set_config('role', $1, true)", 'SELECT pg_advisory_xact_lock(1)', 'UPDATE users SET name = $1']) {
      assert.ok(!SESSION_FEATURES.some(([p]) => p.test(ok)), ok);
    }
  });
});

describe('Atrium behind PgBouncer in transaction mode', { skip }, () => {
  let database: { url: string; drop: () => Promise<void> };
  let bouncer: PgBouncer;
  const atriums: TestAtrium[] = [];
  let acme: TenantFixture;
  let globex: TenantFixture;
  // One deployment: every instance of this suite has the same master key.
  const encryptionKey = randomBytes(32).toString('base64');

  before(async () => {
    database = await createTestDatabase(serverUrl!);
    bouncer = await startPgBouncer(database.url, { poolSize: 2 });
  });
  after(async () => {
    await Promise.all(atriums.map((a) => a.stop()));
    await bouncer?.stop();
    await database?.drop();
  });

  it('the bouncer really pools by transaction: a session SET on one client reaches another (what Atrium must never do)', async () => {
    const url = bouncer.route(database.url);
    const [a, b] = [new pg.Client({ connectionString: url }), new pg.Client({ connectionString: url })];
    await Promise.all([a.connect(), b.connect()]);
    try {
      await a.query("SET application_name = 'left-behind'");
      // Two server connections: whichever b gets, after a few tries it meets the one a used.
      const seen = new Set<string>();
      for (let i = 0; i < 10; i++) seen.add((await b.query<{ application_name: string }>('SHOW application_name')).rows[0]!.application_name);
      assert.ok(seen.has('left-behind'), `a session setting stays on the server connection: ${[...seen].join(', ')}`);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  });

  it('two instances starting together migrate a fresh database through it (the migration lock is transaction-scoped)', async () => {
    const url = bouncer.route(database.url);
    // One deployment: the same database and master key, as instances behind a load balancer.
    const env = { DATABASE_POOL_SIZE: '10', DATABASE_PREPARED_STATEMENTS: 'false', ENCRYPTION_KEY: encryptionKey };
    atriums.push(...(await Promise.all([startTestAtrium(env, { databaseUrl: url }), startTestAtrium(env, { databaseUrl: url })])));
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      const versions = (await direct.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((r) => r.version);
      assert.deepEqual(versions, [...new Set(versions)], 'each migration applied once');
      assert.ok(versions.length >= 12);
    } finally {
      await direct.end();
    }
    const [t] = atriums as [TestAtrium];
    acme = await createTenantFixture(t, 'acme');
    globex = await createTenantFixture(t, 'globex');
  });

  it('serves both tenants concurrently from both instances, each seeing only its own rows, with more clients than server connections', async () => {
    assert.ok(acme && globex, 'needs the instances of the previous test');
    const rounds = 12;
    const calls = Array.from({ length: rounds }, (_, i) => {
      const t = atriums[i % 2]!;
      const fixture = i % 3 === 0 ? globex : acme;
      return Promise.all([
        t.api('GET', `/tenants/${fixture.slug}/users`),
        discover(t.issuer(fixture.slug), fixture.m2mClientId, fixture.m2mClientSecret).then((c) => oidc.clientCredentialsGrant(c, {})),
      ]).then(([users, tokens]) => ({ fixture, users, tokens }));
    });
    for (const { fixture, users, tokens } of await Promise.all(calls)) {
      assert.equal(users.status, 200, JSON.stringify(users.body));
      assert.deepEqual(users.body.users.map((u: { email: string }) => u.email), [fixture.email], `${fixture.slug} sees its own user only`);
      assert.ok(tokens.access_token);
    }
    const pools = (await bouncer.show('POOLS')).filter((p) => p.database === new URL(database.url).pathname.slice(1));
    const servers = pools.reduce((n, p) => n + Number(p.sv_active) + Number(p.sv_idle) + Number(p.sv_used), 0);
    const clients = (await bouncer.show('CLIENTS')).filter((c) => c.database === new URL(database.url).pathname.slice(1)).length;
    assert.ok(servers <= 2, `at most the pool's two server connections: ${servers}`);
    assert.ok(clients > servers, `Atrium's connections (${clients}) share fewer server connections (${servers})`);
  });

  it('leaves no lock behind on a server connection once the work is done', async () => {
    const direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    try {
      const locks = await direct.query(`SELECT l.locktype, l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE a.datname = current_database() AND l.pid <> pg_backend_pid() AND l.locktype = 'advisory'`);
      assert.deepEqual(locks.rows, []);
    } finally {
      await direct.end();
    }
  });

  it('an instance left with prepared statements on (the default) starts, meets the refusal on its requests, says so once, and runs unprepared from then on', async () => {
    assert.ok(acme, 'needs the tenants of the earlier tests');
    const lines: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (lines.push(...String(chunk).trim().split('\n')), done()) });
    const t = await startTestAtrium({ DATABASE_POOL_SIZE: '4', LOG_LEVEL: 'warn', ENCRYPTION_KEY: encryptionKey }, { databaseUrl: bouncer.route(database.url), logStream: sink });
    atriums.push(t);
    // Four connections share two server connections: a name parsed on one server connection
    // is soon bound on the other (26000), or parsed again where it exists (42P05).
    // A request that meets the refusal answers 503 (try again); its platform token may be what met it.
    const status = () => t.api('GET', `/tenants/${acme.slug}/users`).then((a) => a.status, (err: Error) => (/no platform token: .*temporarily_unavailable/.test(err.message) ? 503 : Promise.reject(err)));
    const statuses: number[] = [];
    for (let round = 0; round < 20; round++) statuses.push(...(await Promise.all([status(), status(), status(), status()])));
    const warnings = lines.map((l) => JSON.parse(l) as { msg: string }).filter((l) => /refused a prepared statement/.test(l.msg));
    assert.equal(warnings.length, 1, `one warning: ${JSON.stringify(lines)}`);
    const failed = statuses.filter((s) => s !== 200).length;
    assert.ok(failed <= 4, `only what was in flight when it was refused fails: ${statuses.join(',')}`);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `and with 503, try again: ${statuses.join(',')}`);
    assert.deepEqual(statuses.slice(-40), Array(40).fill(200), 'then every request succeeds');
  });
});
