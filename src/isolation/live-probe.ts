/**
 * The isolation self-audit's live probe: two throwaway tenants, each given a user and an
 * audit event, then each in turn reads every tenant table through the tenant role
 * (atrium_app, the application's own context and proof) and tries to write into the other.
 * Neither may see a row that is not its own (the other's, or any real tenant's), and neither
 * may write for the other. Everything happens in one transaction that is rolled back
 * (Database.rolledBack): the probe tenants never exist outside it, and no other instance sees them.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../storage/database.ts';
import type { IsolationCheck } from './isolation-report.ts';
import type { TenantTable } from './schema-checks.ts';

interface ProbeTenant {
  id: string;
  slug: string;
  userId: string;
}

/** One statement under a savepoint: an error (a policy or a privilege refusing) leaves the transaction usable. */
async function attempt(q: Queryable, sql: string, params: unknown[]): Promise<{ rowCount: number; rows: Record<string, unknown>[] } | { error: string }> {
  await q.exec('SAVEPOINT isolation_probe');
  try {
    const res = await q.query(sql, params);
    await q.exec('RELEASE SAVEPOINT isolation_probe');
    return res;
  } catch (err) {
    await q.exec('ROLLBACK TO SAVEPOINT isolation_probe');
    return { error: err instanceof Error ? err.message : String(err) };
  }
}

async function seed(q: Queryable, t: ProbeTenant): Promise<void> {
  await q.query('INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)', [t.id, t.slug, 'isolation probe (rolled back)']);
  await q.query('INSERT INTO users (tenant_id, id, email) VALUES ($1, $2, $3)', [t.id, t.userId, `${t.slug}@probe.invalid`]);
  await q.query("INSERT INTO audit_events (tenant_id, id, action) VALUES ($1, $2, 'isolation.probe')", [t.id, randomUUID()]);
}

/** What `self` can do that it must not: every finding, empty when isolated. */
async function probeAs(q: Queryable, self: ProbeTenant, other: ProbeTenant, tables: TenantTable[]): Promise<string[]> {
  const found: string[] = [];
  for (const { name, key } of tables) {
    const read = await attempt(q, `SELECT count(*)::int AS n FROM "${name}" WHERE ${key} IS DISTINCT FROM $1`, [self.id]);
    // A refused read (no privilege) shows nothing; only rows that came back are a leak.
    if ('rows' in read && Number(read.rows[0]?.n) > 0) found.push(`${self.slug} reads ${String(read.rows[0]?.n)} row(s) of other tenants in ${name}`);
  }
  const own = await attempt(q, 'SELECT count(*)::int AS n FROM users WHERE id = $1', [self.userId]);
  // Without its own row the probe proves nothing: the context itself is broken.
  if (!('rows' in own) || Number(own.rows[0]?.n) !== 1) found.push(`${self.slug} cannot read its own user (the tenant context does not work, so the probe is void)`);
  const write = await attempt(q, 'INSERT INTO users (tenant_id, id, email) VALUES ($1, $2, $3)', [other.id, randomUUID(), `intruder@probe.invalid`]);
  if (!('error' in write)) found.push(`${self.slug} can insert a user into ${other.slug}`);
  const update = await attempt(q, 'UPDATE users SET name = $2 WHERE id = $1', [other.userId, 'intruder']);
  if ('rowCount' in update && update.rowCount > 0) found.push(`${self.slug} can update a user of ${other.slug}`);
  const remove = await attempt(q, 'DELETE FROM audit_events WHERE tenant_id = $1', [other.id]);
  if ('rowCount' in remove && remove.rowCount > 0) found.push(`${self.slug} can delete audit events of ${other.slug}`);
  return found;
}

export async function runLiveProbe(db: Database, tables: TenantTable[]): Promise<IsolationCheck> {
  const tag = randomBytes(4).toString('hex');
  const [a, b] = (['a', 'b'] as const).map((s) => ({ id: randomUUID(), slug: `isolation-probe-${tag}-${s}`, userId: randomUUID() })) as [ProbeTenant, ProbeTenant];
  const problems = await db.rolledBack('isolation audit: live probe', async (q, enter) => {
    await seed(q, a);
    await seed(q, b);
    const found: string[] = [];
    await enter(a.id);
    found.push(...(await probeAs(q, a, b, tables)));
    await enter(b.id);
    found.push(...(await probeAs(q, b, a, tables)));
    return found;
  });
  return problems.length
    ? { name: 'live-probe', status: 'fail', detail: `two throwaway tenants are not isolated from each other (${problems.length} finding(s))`, problems }
    : { name: 'live-probe', status: 'pass', detail: `two throwaway tenants (rolled back), ${tables.length} tenant tables: neither reads nor writes the other's rows` };
}
