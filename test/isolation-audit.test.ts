/**
 * The isolation self-audit (issue 16, item 4): on a correct deployment every check passes; on
 * deliberately broken copies of this test's own database (RLS disabled or not forced, a policy
 * dropped or opened, a plaintext secret, an unclassified table, an untagged Redis key) the
 * check that owns the rule fails, naming what broke. Each break is repaired before the next.
 * With DATABASE_URL the deployment runs on split logins (a runtime login that owns nothing),
 * and the CLI is run as a process for its exit code; on PGlite, which has one user, the
 * login part of database-roles does not apply (as in test/database-roles.test.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Redis } from 'ioredis';
import { createTestDatabase, splitLoginEnv, startTestAtrium, testServerUrl, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture } from './support/fixtures.ts';
import { PrivateRedis, redisServerMissing } from './support/faults.ts';
import { auditIsolation } from '../src/commands/audit-isolation.ts';
import type { IsolationReport } from '../src/isolation/isolation-report.ts';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const serverUrl = testServerUrl();
const withRedis = Boolean(process.env.REDIS_URL) && !redisServerMissing();
const CHECKS = ['tenant-tables', 'table-classification', 'database-roles', 'redis-keys', 'sealed-columns', 'live-probe'];

let t: TestAtrium;
let database: { url: string; drop: () => Promise<void> } | undefined;
let split: Awaited<ReturnType<typeof splitLoginEnv>> | undefined;
let redis: PrivateRedis | undefined;
const encryptionKey = randomBytes(32).toString('base64');

/** Runs SQL as the owner of this test's database (a superuser on PostgreSQL; PGlite's one user). */
async function asOwner(sql: string): Promise<void> {
  if (!database) return t.atrium.services.db.driver.exec(sql);
  const c = new pg.Client({ connectionString: database.url });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

async function report(): Promise<IsolationReport> {
  const res = await t.api('GET', '/platform/isolation-report');
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as IsolationReport;
}

function check(r: IsolationReport, name: string) {
  const c = r.checks.find((x) => x.name === name);
  assert.ok(c, `no check ${name}`);
  return c;
}

/** Breaks the database with `breakSql`, expects `name` to fail with a finding matching `finding`, then repairs. */
async function caught(breakSql: string, repairSql: string, name: string, finding: RegExp, alsoFailing: string[] = []): Promise<IsolationReport> {
  await asOwner(breakSql);
  try {
    const r = await report();
    assert.equal(r.status, 'failed');
    const c = check(r, name);
    assert.equal(c.status, 'fail', `${name} should fail: ${JSON.stringify(c)}`);
    assert.ok(c.problems?.some((p) => finding.test(p)), `${name}: no finding matching ${finding}: ${JSON.stringify(c.problems)}`);
    for (const other of alsoFailing) assert.equal(check(r, other).status, 'fail', `${other} should fail too`);
    return r;
  } finally {
    await asOwner(repairSql);
  }
}

before(async () => {
  if (withRedis) redis = await PrivateRedis.start();
  const env: Record<string, string> = { ENCRYPTION_KEY: encryptionKey, ...(redis ? { REDIS_URL: redis.url } : {}) };
  if (serverUrl) {
    database = await createTestDatabase(serverUrl);
    split = await splitLoginEnv(database.url);
    t = await startTestAtrium({ ...env, ...split.env }, { databaseUrl: split.env.DATABASE_URL });
  } else {
    t = await startTestAtrium(env);
  }
  await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
});
after(async () => {
  await t?.stop();
  await database?.drop();
  await split?.drop();
  await redis?.kill();
});

describe('isolation self-audit on a correct deployment', () => {
  it('passes every check, one line per check, and records the run in the audit log', async () => {
    const r = await report();
    assert.deepEqual(r.checks.map((c) => c.name), CHECKS);
    assert.equal(r.status, 'passed', JSON.stringify(r.checks.filter((c) => c.status !== 'pass'), null, 1));
    for (const c of r.checks) assert.equal(c.status, c.name === 'redis-keys' && !redis ? 'skip' : 'pass', `${c.name}: ${c.detail}`);
    // With Redis, the token requests of the fixtures left rate-limit counters to sample.
    assert.match(check(r, 'redis-keys').detail, redis ? /^[1-9]\d* sampled keys/ : /not configured/);
    assert.match(check(r, 'sealed-columns').detail, /[1-9]\d* sampled values/, 'the fixtures\' client secrets and keys were sampled');
    const events = await t.api('GET', '/tenants/_platforms/audit?action=platform.isolation_audit');
    const last = events.body.events[0];
    assert.equal(last.actor, 'client:platform-test');
    assert.equal(last.outcome, 'success');
    assert.deepEqual(last.details.failed, []);
  });

  it('the command prints one line per check (PASS/FAIL/SKIP name: detail) and a verdict', async () => {
    const lines: string[] = [];
    const r = await auditIsolation(t.atrium.services, (l) => lines.push(l));
    assert.equal(r.status, 'passed');
    assert.deepEqual(lines.map((l) => /^(PASS|SKIP) ([a-z-]+): /.exec(l)?.[2] ?? l), [...CHECKS, 'isolation audit passed']);
  });

  it('leaves no trace of its probe tenants, and writes nothing else', async () => {
    const tenants = await t.api('GET', '/tenants?limit=100');
    assert.ok(!JSON.stringify(tenants.body).includes('isolation-probe'), 'the probe tenants were rolled back');
  });
});

describe('isolation self-audit on broken copies', () => {
  it('catches a tenant table with row-level security disabled (and the probe reads across)', async () => {
    await caught('ALTER TABLE users DISABLE ROW LEVEL SECURITY', 'ALTER TABLE users ENABLE ROW LEVEL SECURITY', 'tenant-tables', /^users: row-level security is disabled/, ['live-probe']);
  });

  it('catches row-level security that is not forced', async () => {
    await caught('ALTER TABLE signing_keys NO FORCE ROW LEVEL SECURITY', 'ALTER TABLE signing_keys FORCE ROW LEVEL SECURITY', 'tenant-tables', /^signing_keys: row-level security is not forced/);
  });

  it('catches a dropped tenant policy', async () => {
    await caught(
      'DROP POLICY tenant_isolation ON oidc_clients',
      'CREATE POLICY tenant_isolation ON oidc_clients TO atrium_app USING (tenant_id = (SELECT atrium_current_tenant())) WITH CHECK (tenant_id = (SELECT atrium_current_tenant()))',
      'tenant-tables',
      /^oidc_clients: no policy for atrium_app/,
    );
  });

  it('catches a permissive policy that lets the tenant role past the tenant (and the probe reads across)', async () => {
    await caught('CREATE POLICY wide_open ON users TO atrium_app USING (true)', 'DROP POLICY wide_open ON users', 'tenant-tables', /^users: policy wide_open admits atrium_app/, ['live-probe']);
  });

  it('catches a plaintext secret in a sealed column, without printing it', async () => {
    const r = await caught(
      "CREATE TABLE sealed_backup AS SELECT tenant_id, client_id, secret_enc FROM oidc_clients; UPDATE oidc_clients SET secret_enc = 'hunter2-plaintext' WHERE secret_enc IS NOT NULL",
      'UPDATE oidc_clients o SET secret_enc = b.secret_enc FROM sealed_backup b WHERE b.tenant_id = o.tenant_id AND b.client_id = o.client_id; DROP TABLE sealed_backup',
      'sealed-columns',
      /^oidc_clients\.secret_enc: \d+ of \d+ sampled values are not sealed/,
    );
    assert.ok(!JSON.stringify(r).includes('hunter2'), 'the report never shows a sampled value');
  });

  it('catches a table without tenant_id that is not a declared platform table, and a tenant_id table without RLS', async () => {
    await caught('CREATE TABLE notes (id int PRIMARY KEY, body text)', 'DROP TABLE notes', 'table-classification', /^notes: no tenant_id and not a declared platform table/);
    await caught('CREATE TABLE tenant_notes (tenant_id uuid NOT NULL, body text)', 'DROP TABLE tenant_notes', 'tenant-tables', /^tenant_notes: row-level security is disabled/);
  });

  it('catches a Redis key under the prefix without a tenant tag', { skip: withRedis ? false : 'needs REDIS_URL and redis-server' }, async () => {
    const client = new Redis(redis!.url);
    try {
      await client.set('atrium:rl:login_per_ip:untagged', '1');
      const r = await report();
      assert.equal(check(r, 'redis-keys').status, 'fail');
      assert.ok(check(r, 'redis-keys').problems?.some((p) => p.includes('atrium:rl:login_per_ip:untagged')));
      await client.del('atrium:rl:login_per_ip:untagged');
      assert.equal(check(await report(), 'redis-keys').status, 'pass');
    } finally {
      client.disconnect();
    }
  });

  it('records a failed run as a failure naming the failed checks', async () => {
    await caught('ALTER TABLE audit_events NO FORCE ROW LEVEL SECURITY', 'ALTER TABLE audit_events FORCE ROW LEVEL SECURITY', 'tenant-tables', /^audit_events:/);
    const events = await t.api('GET', '/tenants/_platforms/audit?action=platform.isolation_audit&outcome=failure');
    assert.deepEqual(events.body.events[0].details.failed, ['tenant-tables']);
    assert.equal((await report()).status, 'passed', 'every repair restored a passing deployment');
  });
});

describe('the audit-isolation command as a process', { skip: serverUrl ? false : 'needs DATABASE_URL (the CLI opens its own database; PGlite is one connection)' }, () => {
  const cli = async (env: Record<string, string>) => {
    const base = { ...process.env };
    for (const unset of ['REDIS_URL', 'DATABASE_MIGRATION_URL']) delete base[unset];
    return run(process.execPath, ['src/cli.ts', 'audit-isolation'], { cwd: ROOT, env: { ...base, LOG_LEVEL: 'warn', ENCRYPTION_KEY: encryptionKey, ...env } }).then(
      ({ stdout }) => ({ code: 0, stdout }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
  };
  const redisEnv = (): Record<string, string> => (redis ? { REDIS_URL: redis.url } : {});

  it('exits 0 on the split-login deployment, printing one line per check', async () => {
    const res = await cli({ ...split!.env, ...redisEnv() });
    assert.equal(res.code, 0, res.stdout);
    assert.match(res.stdout, /^PASS tenant-tables: /m);
    assert.match(res.stdout, /^isolation audit passed$/m);
  });

  it('exits 1 when the runtime login is the owner (one login: it can leave row-level security)', async () => {
    const res = await cli({ DATABASE_URL: database!.url, ...redisEnv() });
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stdout, /^FAIL database-roles: /m);
    assert.match(res.stdout, /the runtime login "postgres" is the owner login/);
  });
});
