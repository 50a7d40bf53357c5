/**
 * DATABASE_PREPARED_STATEMENTS (storage/statement-names.ts, storage/pg-driver.ts): the
 * statements of the requests' transactions are parsed and planned once per connection, then
 * only bound and executed. What a server connection holds is read from PostgreSQL's own
 * `pg_prepared_statements`, on a pool of one connection so that the reading statement runs
 * where the others ran. Needs DATABASE_URL (PGlite has no such setting).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createPgDriver } from '../src/storage/pg-driver.ts';
import type { Driver, Queryable } from '../src/storage/driver.ts';
import { createTestDatabase, startTestAtrium, testServerUrl } from './support/atrium.ts';
import { pgbouncerRequested } from './support/pgbouncer.ts';

const serverUrl = testServerUrl();
const skip = serverUrl ? false : 'needs DATABASE_URL (PostgreSQL)';

/** A transaction opened as the requests' are: its context statement has parameters. */
const CONTEXT = "SELECT set_config('app.purpose', $1, true)";
const READ = 'SELECT n, label FROM prepared_probe WHERE n = $1';

interface Prepared {
  name: string;
  statement: string;
  plans: number;
}

const preparedOn = (q: Queryable) =>
  q.query<Prepared>(`SELECT name, statement, generic_plans + custom_plans AS plans FROM pg_prepared_statements WHERE name LIKE 'atrium\\_%' ORDER BY name`).then((r) => r.rows.map((p) => ({ ...p, plans: Number(p.plans) })));

describe('prepared statements on a PostgreSQL server', { skip }, () => {
  let database: { url: string; drop: () => Promise<void> };
  const drivers: Driver[] = [];
  /** A driver as a started instance has it (`started: false`: during start-up). */
  const driver = (preparedStatements: boolean, started = true) => {
    const d = createPgDriver(database.url, 1, { preparedStatements });
    drivers.push(d);
    if (started) d.startPreparing?.();
    return d;
  };

  before(async () => {
    database = await createTestDatabase(serverUrl!);
    const setup = new pg.Client({ connectionString: database.url });
    await setup.connect();
    await setup.query("CREATE TABLE prepared_probe (n int PRIMARY KEY, label text); INSERT INTO prepared_probe VALUES (1, 'one')");
    await setup.end();
  });
  after(async () => {
    await Promise.all(drivers.map((d) => d.close()));
    await database?.drop();
  });

  it('on: a statement of a transaction with a context is parsed once and its plan used at every run', async () => {
    const d = driver(true);
    for (let i = 0; i < 7; i++) await d.transaction(CONTEXT, (q) => q.query(READ, [1]), ['probe']);
    const held = await d.transaction(CONTEXT, preparedOn, ['probe']);
    const read = held.find((p) => p.statement === READ);
    assert.ok(read, `the read is prepared: ${JSON.stringify(held)}`);
    assert.equal(read.plans, 7, 'seven runs of one prepared statement');
    assert.ok(held.some((p) => p.statement === CONTEXT), 'the context statement too');
  });

  it('on: a batch prepares its statements as well', async () => {
    const d = driver(true);
    const batch = 'SELECT label FROM prepared_probe WHERE n = $1 AND label IS NOT NULL';
    await d.batch(CONTEXT, ['probe'], [[batch, [1]], [batch, [1]]]);
    const held = await d.transaction(CONTEXT, preparedOn, ['probe']);
    assert.equal(held.find((p) => p.statement === batch)?.plans, 2);
  });

  it('off: nothing is prepared, the same work answers the same', async () => {
    const d = driver(false);
    const answers = [];
    for (let i = 0; i < 3; i++) answers.push((await d.transaction(CONTEXT, (q) => q.query(READ, [1]), ['probe'])).rows);
    assert.deepEqual(answers, [[{ n: 1, label: 'one' }], [{ n: 1, label: 'one' }], [{ n: 1, label: 'one' }]]);
    assert.deepEqual(await d.transaction(CONTEXT, preparedOn, ['probe']), []);
  });

  it('on: nothing is prepared during start-up, before the instance starts preparing', async () => {
    const d = driver(true, false);
    await d.transaction(CONTEXT, (q) => q.query(READ, [1]), ['probe']);
    assert.deepEqual(await d.transaction(CONTEXT, preparedOn, ['probe']), []);
    d.startPreparing?.();
    await d.transaction(CONTEXT, (q) => q.query(READ, [1]), ['probe']);
    assert.ok((await d.transaction(CONTEXT, preparedOn, ['probe'])).some((p) => p.statement === READ));
  });

  it('on: a transaction without a context (the migrations\' lock) and plain queries are never prepared', async () => {
    const d = driver(true);
    await d.transaction('SELECT 1', (q) => q.query(READ, [1]));
    await d.query(READ, [1]);
    const held = await d.transaction(CONTEXT, preparedOn, ['probe']);
    assert.ok(!held.some((p) => p.statement === READ), JSON.stringify(held));
  });

  it('a plan whose table changed under it (a newer instance migrated) fails once, then the connection is replaced and it runs again', async () => {
    const d = driver(true);
    const all = 'SELECT * FROM prepared_probe WHERE n = $1';
    assert.equal((await d.transaction(CONTEXT, (q) => q.query(all, [1]), ['probe'])).rows.length, 1);
    const owner = new pg.Client({ connectionString: database.url });
    await owner.connect();
    try {
      await owner.query('ALTER TABLE prepared_probe ADD COLUMN extra int');
    } finally {
      await owner.end();
    }
    await assert.rejects(d.transaction(CONTEXT, (q) => q.query(all, [1]), ['probe']), /cached plan must not change result type/);
    const again = await d.transaction(CONTEXT, (q) => q.query(all, [1]), ['probe']);
    assert.deepEqual(again.rows, [{ n: 1, label: 'one', extra: null }]);
  });
});

// Through CI's PgBouncer 1.18 the instances run with the setting off (test/support/atrium.ts); pgbouncer.test.ts covers it there.
describe('DATABASE_PREPARED_STATEMENTS reaches the running instance', { skip: skip || (pgbouncerRequested() && 'the runtime login goes through PgBouncer 1.18') }, () => {
  for (const [value, expected] of [['true', true], ['false', false]] as const) {
    it(`${value}: its connection ${expected ? 'holds' : 'holds no'} prepared statements after serving a request`, async () => {
      const t = await startTestAtrium({ DATABASE_PREPARED_STATEMENTS: value, DATABASE_POOL_SIZE: '1' });
      try {
        assert.equal((await t.api('GET', '/tenants')).status, 200);
        const held = await t.atrium.services.db.crossTenant('test: what the connection holds', preparedOn);
        assert.equal(held.length > 0, expected, JSON.stringify(held));
      } finally {
        await t.stop();
      }
    });
  }
});
