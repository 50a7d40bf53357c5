/**
 * The isolation self-audit's reading of the live schema (catalog queries only, nothing
 * written): which tables hold tenant data, whether each is under forced row-level security
 * with a policy on `app.tenant_id`, and whether every other table is a declared platform table.
 */
import type { Queryable } from '../storage/database.ts';
import type { IsolationCheck } from './isolation-report.ts';

/**
 * Tables that hold no tenant's data, with why, and whether the tenant role (atrium_app) may
 * read them. Any other table without `tenant_id` is a failure: a new table must either carry
 * `tenant_id` under row-level security or be declared here.
 */
export const PLATFORM_TABLES: Readonly<Record<string, { why: string; appReads: boolean }>> = {
  retired_slugs: { why: 'deleted tenants\' slugs, never reused (platform path only)', appReads: false },
  leases: { why: 'which instance runs a background job', appReads: false },
  atrium_context_key: { why: 'the key of the context proofs (owner only)', appReads: false },
  schema_migrations: { why: 'migration bookkeeping, read by /readyz', appReads: true },
  platform_config: { why: 'the operator\'s policy above the tenants (platform path only)', appReads: false },
  deployment: { why: 'the deployment\'s id, naming its event bus channel (platform path only)', appReads: false },
};

/** Tenant data keyed by another column than tenant_id: the tenant registry is keyed by its own id. */
const KEYED_OTHERWISE: Readonly<Record<string, string>> = { tenants: 'id' };

interface TableFacts {
  name: string;
  has_tenant_id: boolean;
  rls: boolean;
  forced: boolean;
  app_reads: boolean;
}

interface PolicyFacts {
  tablename: string;
  policyname: string;
  roles: string[] | string;
  permissive: string;
  qual: string | null;
  with_check: string | null;
}

/** The tables of schema public that hold tenant data (what the live probe reads). */
export interface TenantTable {
  name: string;
  /** The column naming the tenant of a row. */
  key: string;
}

export async function readTables(q: Queryable): Promise<TableFacts[]> {
  const res = await q.query<TableFacts>(`
    SELECT c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
      EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id,
      has_table_privilege('atrium_app', c.oid, 'SELECT') AS app_reads
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY c.relname`);
  return res.rows;
}

export function tenantTables(tables: TableFacts[]): TenantTable[] {
  return tables
    .filter((t) => !(t.name in PLATFORM_TABLES) && (t.has_tenant_id || t.name in KEYED_OTHERWISE))
    .map((t) => ({ name: t.name, key: KEYED_OTHERWISE[t.name] ?? 'tenant_id' }));
}

const roleList = (roles: PolicyFacts['roles']): string[] => (Array.isArray(roles) ? roles : String(roles).replace(/^\{|\}$/g, '').split(','));
/** A condition that reads the tenant of the context: the proof-checking function, or the setting itself. */
const readsTenantSetting = (expr: string | null) => expr !== null && /atrium_current_tenant\(\)|app\.tenant_id/.test(expr);

/** Check: every tenant table has its key column, RLS enabled and forced, and a policy on app.tenant_id. */
export async function checkTenantTables(q: Queryable, tables: TableFacts[]): Promise<IsolationCheck> {
  const policies = (await q.query<PolicyFacts>(`SELECT tablename, policyname, roles, permissive, qual, with_check FROM pg_policies WHERE schemaname = 'public'`)).rows;
  const fn = await q.query<{ src: string }>(`SELECT p.prosrc AS src FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = 'atrium_current_tenant'`);
  const problems: string[] = [];
  if (!fn.rows[0]?.src.includes('app.tenant_id')) problems.push('atrium_current_tenant() does not read app.tenant_id');
  const tenant = tenantTables(tables);
  for (const { name, key } of tenant) {
    const t = tables.find((x) => x.name === name)!;
    if (!t.rls) problems.push(`${name}: row-level security is disabled`);
    else if (!t.forced) problems.push(`${name}: row-level security is not forced (its owner bypasses it)`);
    const own = policies.filter((p) => p.tablename === name);
    const forApp = own.filter((p) => roleList(p.roles).some((r) => r === 'atrium_app' || r === 'public'));
    const scoped = forApp.filter((p) => readsTenantSetting(p.qual) && p.qual!.includes(key) && readsTenantSetting(p.with_check ?? p.qual));
    if (scoped.length === 0) problems.push(`${name}: no policy for atrium_app on ${key} = app.tenant_id`);
    // A permissive policy is OR-ed with the others: one that does not read the tenant opens the table.
    for (const p of forApp) if (p.permissive === 'PERMISSIVE' && !readsTenantSetting(p.qual)) problems.push(`${name}: policy ${p.policyname} admits atrium_app without the tenant of the context`);
  }
  return problems.length
    ? { name: 'tenant-tables', status: 'fail', detail: `${problems.length} problem(s) in ${tenant.length} tenant tables`, problems }
    : { name: 'tenant-tables', status: 'pass', detail: `${tenant.length} tenant tables: tenant key, row-level security enabled and forced, a policy on app.tenant_id` };
}

/** Check: no table escapes the rule, being neither a tenant table nor a declared platform table. */
export function checkTableClassification(tables: TableFacts[]): IsolationCheck {
  const problems: string[] = [];
  for (const t of tables) {
    const declared = PLATFORM_TABLES[t.name];
    if (declared) {
      if (t.app_reads && !declared.appReads) problems.push(`${t.name}: a platform table (${declared.why}) that atrium_app can read`);
    } else if (!t.has_tenant_id && !(t.name in KEYED_OTHERWISE)) {
      problems.push(`${t.name}: no tenant_id and not a declared platform table`);
    }
  }
  for (const name of Object.keys(PLATFORM_TABLES)) if (!tables.some((t) => t.name === name)) problems.push(`${name}: declared platform table is missing`);
  return problems.length
    ? { name: 'table-classification', status: 'fail', detail: `${problems.length} table(s) outside the rule`, problems }
    : { name: 'table-classification', status: 'pass', detail: `${tables.length} tables: each a tenant table or one of ${Object.keys(PLATFORM_TABLES).length} declared platform tables` };
}
