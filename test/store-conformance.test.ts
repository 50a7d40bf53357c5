/**
 * One conformance suite for every tenant-scoped store (issue 12 item 7). For each store
 * (test/support/store-cases.ts): rows are made as tenant A; as tenant B every read returns
 * nothing of A's, every update and delete aimed at A's rows affects nothing, every insert
 * with A's keys leaves A's rows as they were; then, as A, the same reads find A's rows and
 * the same writes change them, so no probe passes by aiming at nothing.
 * A store cannot be added without joining: every module under src/ whose SQL names a
 * tenant-scoped table, every such table (read from the database itself) and every method of
 * a listed store must be covered here, or exempt with its reason.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { globSync, readFileSync } from 'node:fs';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture } from './support/fixtures.ts';
import { storeCases, type Probe, type StoreCase } from './support/store-cases.ts';
import { runAsTenant } from '../src/core/request-context.ts';
import { AppError } from '../src/core/errors.ts';
import type { Tenant } from '../src/tenancy/tenant.ts';

/** Modules whose SQL names tenant-scoped tables but that are no tenant-scoped store: cross-tenant by design (checked: no withTenant). */
const NOT_TENANT_SCOPED: Record<string, string> = {
  'src/federation/tenant-picker.ts': 'the public tenant list and home-realm discovery: listed tenants only, read across tenants on the platform path',
  'src/oidc/expiring-rows.ts': 'the sweep condition on user_sessions, run cross-tenant by runtime/expiry-sweeper.ts',
  'src/oidc/key-lifecycle.ts': 'finds tenants whose keys are due, across tenants',
  'src/audit/audit-retention.ts': 'deletes audit events past each tenant\'s retention, across tenants',
  'src/tenancy/tenant-store.ts': 'resolves and manages tenants (platform), reading their domains across tenants',
  'src/isolation/live-probe.ts': 'the isolation self-audit\'s probe: throwaway tenants in a transaction that is rolled back',
  // Tenant bundles (runtime/tenant-transfer.ts): each domain's rows out under the tenant's own RLS, in cross-tenant on import.
  'src/tenancy/tenant-transfer.ts': 'the tenant record and domains of a bundle; an import creates or replaces a tenant, which only the platform can',
  'src/accounts/user-transfer.ts': 'users of a bundle, in the import\'s one cross-tenant transaction',
  'src/mfa/mfa-transfer.ts': 'second factors of a bundle, in the import\'s one cross-tenant transaction',
  'src/mail/device-transfer.ts': 'known devices of a bundle, in the import\'s one cross-tenant transaction',
  'src/oidc/oidc-transfer.ts': 'clients and signing keys of a bundle, in the import\'s one cross-tenant transaction',
  'src/federation/federation-transfer.ts': 'upstream connections and identities of a bundle, in the import\'s one cross-tenant transaction',
  'src/webhooks/webhook-delivery.ts': 'the delivery worker claims due outbox rows of every tenant (crossTenant, FOR UPDATE SKIP LOCKED) and records outcomes',
  'src/audit/audit-transfer.ts': 'the audit log of a bundle, in the import\'s one cross-tenant transaction',
};

/**
 * Modules that write other domains' tables only inside Database.rolledBack (never committed),
 * so they own nothing: the isolation probe seeds its throwaway tenants there.
 */
const ROLLED_BACK_WRITERS: Record<string, string> = {
  'src/isolation/live-probe.ts': 'seeds two throwaway tenants (a user and an audit event each) and tries to cross between them',
};

/** Tables with a tenant_id that no tenant-scoped store writes. */
const PLATFORM_TABLES: Record<string, string> = {
  retired_slugs: 'slugs of deleted tenants, kept by the platform (tenancy/tenant-store.ts, crossTenant only)',
};

/**
 * Stores of platform tables without a tenant_id (no tenant rows, so no store case can drive
 * them as another tenant): checked to name no tenant table and to run cross-tenant only.
 */
const PLATFORM_STORES: Record<string, string> = {
  'src/tenancy/platform-config-store.ts': 'platform_config, the operator\'s policy above the tenants (issue 13, item 4)',
};

let t: TestAtrium;
let a: Tenant;
let b: Tenant;
let cases: StoreCase[];
let tenantTables: string[];
let allTables: string[];

before(async () => {
  t = await startTestAtrium();
  await createTenantFixture(t, 'acme');
  await createTenantFixture(t, 'globex');
  a = (await t.atrium.services.tenantStore.findBySlug('acme'))!;
  b = (await t.atrium.services.tenantStore.findBySlug('globex'))!;
  cases = storeCases(t.atrium.services);
  // From the catalog, which every role reads in full (information_schema shows only tables the role may use).
  const res = await t.atrium.services.db.crossTenant('list tables', (q) =>
    q.query<{ table_name: string; tenant_scoped: boolean }>(
      `SELECT c.relname AS table_name, EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS tenant_scoped
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname`,
    ),
  );
  tenantTables = res.rows.filter((r) => r.tenant_scoped).map((r) => r.table_name);
  allTables = res.rows.map((r) => r.table_name);
});
after(() => t?.stop());

/** A's rows of the store's tables, in a stable order. */
async function rowsOfA(tables: string[]): Promise<Record<string, string[]>> {
  return t.atrium.services.db.crossTenant('store conformance snapshot', async (q) => {
    const out: Record<string, string[]> = {};
    for (const table of tables) {
      const res = await q.query(`SELECT * FROM ${table} WHERE ${table === 'tenants' ? 'id' : 'tenant_id'} = $1`, [a.id]);
      out[table] = res.rows.map((r) => JSON.stringify(r)).sort();
    }
    return out;
  });
}

const text = (v: unknown) => JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? [...x.entries()] : x)) ?? '';
const nothing = (v: unknown): boolean =>
  v == null || v === false || v === 0 || (Array.isArray(v) ? v.length === 0 : v instanceof Map ? v.size === 0 : typeof v === 'object' && Object.values(v).every(nothing));

/** A write refused by the database (row-level security, a foreign key) or by the store (404, 409): nothing happened. */
async function outcome(probe: Probe): Promise<{ result?: unknown; refused?: string }> {
  try {
    return { result: await probe() };
  } catch (err) {
    if (err instanceof AppError) return { refused: err.message };
    if (err instanceof Error && typeof (err as Error & { code?: unknown }).code === 'string') return { refused: err.message };
    throw err;
  }
}

describe('every tenant-scoped store', () => {
  it('keeps tenant A\'s rows from tenant B in every method of every store: reads, updates, deletes and inserts', async () => {
    for (const store of cases) {
      const where = store.module;
      const seeded = await runAsTenant(a.id, () => store.seed(a));
      const methods = Object.getOwnPropertyNames(store.type.prototype).filter((m) => m !== 'constructor');
      const probed = new Set([...Object.keys(seeded.reads), ...Object.keys(seeded.writes), ...Object.keys(seeded.inserts ?? {})]);
      assert.deepEqual(methods.filter((m) => !probed.has(m) && !store.exempt?.[m]), [], `${where}: methods neither probed nor exempt`);
      assert.deepEqual([...probed].filter((m) => !methods.includes(m)), [], `${where}: probes named after no method`);
      const before = await rowsOfA(store.tables);
      for (const table of store.tables) assert.ok(before[table]!.length > 0, `${where}: the seed made no row of ${table} for A`);

      await runAsTenant(b.id, async () => {
        for (const [name, read] of Object.entries(seeded.reads)) {
          const { result, refused } = await outcome(typeof read === 'function' ? read : read.run);
          if (refused) continue;
          const leaked = seeded.markers.filter((m) => text(result).includes(m));
          assert.deepEqual(leaked, [], `${where} ${name} as B returned A's rows`);
          if (typeof read !== 'function') assert.equal(read.seen(result), false, `${where} ${name} as B saw A's rows`);
        }
        for (const [name, write] of Object.entries(seeded.writes)) {
          const { result } = await outcome(write);
          assert.ok(nothing(result), `${where} ${name} as B affected something: ${text(result)}`);
        }
        for (const insert of Object.values(seeded.inserts ?? {})) await outcome(insert);
      });
      assert.deepEqual(await rowsOfA(store.tables), before, `${where}: B changed A's rows`);

      await runAsTenant(a.id, async () => {
        for (const [name, read] of Object.entries(seeded.reads)) {
          const result = await (typeof read === 'function' ? read : read.run)();
          const seen = typeof read === 'function' ? seeded.markers.some((m) => text(result).includes(m)) : read.seen(result);
          assert.ok(seen, `${where} ${name} as A does not find A's rows: the probe aims at nothing`);
        }
        for (const write of Object.values(seeded.writes)) await write();
      });
      if (Object.keys(seeded.writes).length > 0) assert.notDeepEqual(await rowsOfA(store.tables), before, `${where}: the writes as A changed nothing: they aim at nothing`);
    }
  });

  it('covers every table with a tenant_id column', () => {
    assert.ok(tenantTables.includes('users') && tenantTables.includes('oidc_payloads'), 'the table list comes from the database');
    const covered = new Set(cases.flatMap((c) => c.tables));
    assert.deepEqual(tenantTables.filter((table) => !covered.has(table) && !PLATFORM_TABLES[table]), [], 'tenant-scoped tables no store case covers');
  });

  it('covers every module whose SQL names a tenant-scoped table', () => {
    const listed = new Set(cases.map((c) => c.module));
    const sql = new RegExp(`\\b(?:FROM|INTO|UPDATE|JOIN)\\s+(?:${tenantTables.join('|')})\\b`);
    const modules = globSync('src/**/*.ts').filter((f) => !f.endsWith('.test.ts') && sql.test(readFileSync(f, 'utf8')));
    assert.ok(modules.includes('src/accounts/user-store.ts'), 'the scan finds the stores');
    assert.deepEqual(modules.filter((f) => !listed.has(f) && !NOT_TENANT_SCOPED[f]).sort(), [], 'modules issuing SQL against tenant tables, in no store case');
    for (const f of Object.keys(NOT_TENANT_SCOPED)) {
      assert.ok(modules.includes(f), `${f} is exempt but names no tenant table: drop it from the list`);
      assert.doesNotMatch(readFileSync(f, 'utf8'), /withTenant\(/, `${f} runs tenant-scoped SQL: it needs a store case, not an exemption`);
    }
    for (const table of Object.keys(PLATFORM_TABLES)) {
      const writers = globSync('src/**/*.ts').filter((f) => !f.endsWith('.test.ts') && new RegExp(`\\b(?:INTO|UPDATE|FROM)\\s+${table}\\b`).test(readFileSync(f, 'utf8')));
      assert.deepEqual(writers.filter((f) => !NOT_TENANT_SCOPED[f]), [], `${table} is a platform table: only cross-tenant modules may name it`);
    }
    const stores = globSync('src/**/*-store.ts');
    assert.deepEqual(stores.filter((f) => !listed.has(f) && !NOT_TENANT_SCOPED[f] && !PLATFORM_STORES[f]).sort(), [], 'stores in no store case');
    for (const f of Object.keys(PLATFORM_STORES)) {
      const text = readFileSync(f, 'utf8');
      assert.ok(!modules.includes(f), `${f} is a platform store but names a tenant table: it needs a store case`);
      assert.match(text, /\.crossTenant\(/, `${f}: a platform store runs on the audited cross-tenant path`);
      assert.doesNotMatch(text, /withTenant\(/, `${f}: a platform store runs no tenant-scoped SQL`);
    }
    for (const c of cases) assert.ok(modules.includes(c.module), `${c.module} is listed but issues no SQL against a tenant table`);
  });

  it('writes each table only from the domain that owns it (DESIGN.md, "Table ownership")', () => {
    const design = readFileSync('DESIGN.md', 'utf8');
    const block = design.slice(design.indexOf('<!-- table-ownership'), design.indexOf('<!-- /table-ownership -->'));
    const owner = new Map<string, string>();
    for (const [, folder, tables] of block.matchAll(/^- ([a-z-]+)\/: (.+)$/gm)) for (const table of tables!.split(',')) owner.set(table.trim(), folder!);
    assert.deepEqual(allTables.filter((table) => !owner.has(table)), [], 'tables with no owner in DESIGN.md');
    assert.deepEqual([...owner.keys()].filter((table) => !allTables.includes(table)), [], 'owned tables that do not exist');
    const wrong: string[] = [];
    for (const file of globSync('src/**/*.ts').filter((f) => !f.endsWith('.test.ts')).sort()) {
      const folder = file.split('/')[1];
      if (ROLLED_BACK_WRITERS[file]) {
        const text = readFileSync(file, 'utf8');
        assert.match(text, /\.rolledBack\(/, `${file}: exempt as a rolled-back writer, so it must write through Database.rolledBack`);
        assert.doesNotMatch(text, /\.(withTenant|crossTenant)\(/, `${file}: a rolled-back writer opens no committing transaction`);
        continue;
      }
      for (const [, table] of readFileSync(file, 'utf8').matchAll(/\b(?:INSERT INTO|UPDATE|DELETE FROM)\s+([a-z_]+)\b/g)) {
        if (owner.get(table!) !== folder) wrong.push(`${file} writes ${table} (owner: ${owner.get(table!) ?? 'none'})`);
      }
    }
    assert.ok(wrong.length === 0, `writes outside the owning domain:\n${[...new Set(wrong)].join('\n')}`);
  });
});
