/**
 * The isolation self-audit's check of who the database sees: the roles every transaction runs
 * as (atrium_app, atrium_platform) and the runtime login itself must not step outside
 * row-level security. Catalog reads only.
 */
import type { Driver } from '../storage/database.ts';
import { runtimeLoginProblems } from '../storage/runtime-login.ts';
import type { IsolationCheck } from './isolation-report.ts';

interface RoleFacts {
  name: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  owns: boolean;
  owner_member: boolean;
}

export interface RoleCheckOptions {
  /** DATABASE_MIGRATION_URL is set: the runtime login should be one that owns nothing. */
  splitLogins: boolean;
}

export async function checkDatabaseRoles(driver: Driver, options: RoleCheckOptions): Promise<IsolationCheck> {
  const res = await driver.query<RoleFacts>(`
    SELECT r.rolname AS name, r.rolsuper, r.rolbypassrls,
      EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid) AS owns,
      pg_has_role(r.oid, (SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 'tenants'), 'MEMBER') AS owner_member
    FROM pg_roles r WHERE r.rolname IN ('atrium_app', 'atrium_platform') ORDER BY r.rolname`);
  const problems: string[] = [];
  for (const name of ['atrium_app', 'atrium_platform']) {
    const r = res.rows.find((x) => x.name === name);
    if (!r) {
      problems.push(`role ${name} does not exist`);
      continue;
    }
    if (r.rolsuper) problems.push(`${name} is a superuser`);
    if (r.rolbypassrls) problems.push(`${name} has BYPASSRLS`);
    if (r.owns) problems.push(`${name} owns relations`);
    if (r.owner_member) problems.push(`${name} can become the tables' owner`);
  }
  let login: string;
  if (driver.kind === 'pglite') {
    login = 'embedded PGlite has one user, the owner (no runtime login to check; README, Database roles)';
  } else {
    const runtime = await runtimeLoginProblems(driver);
    if (!options.splitLogins) problems.push(`the runtime login "${runtime.name}" is the owner login: it can RESET ROLE and leave row-level security (set DATABASE_MIGRATION_URL; README, Database roles)`);
    else problems.push(...runtime.problems.map((p) => `the runtime login "${runtime.name}" ${p}`));
    login = `runtime login "${runtime.name}" owns nothing and cannot bypass row-level security`;
  }
  return problems.length
    ? { name: 'database-roles', status: 'fail', detail: `${problems.length} problem(s)`, problems }
    : { name: 'database-roles', status: 'pass', detail: `atrium_app and atrium_platform own nothing, neither superuser nor BYPASSRLS; ${login}` };
}
