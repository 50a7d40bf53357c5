/**
 * With a separate migration login, the runtime login (DATABASE_URL) is checked at start: it
 * must be unable to step outside row-level security. Start-up refuses a login that is a
 * superuser, has BYPASSRLS or CREATEROLE (which, before PostgreSQL 16, can grant itself any
 * role), can become the tables' owner, or owns a table; and one that lacks the two context
 * roles it needs. A login that inherits those roles' privileges only earns a warning: the
 * policies still require the application's context proof.
 */
import type { Logger } from 'pino';
import type { Driver } from './driver.ts';

interface LoginFacts {
  name: string;
  rolsuper: boolean;
  rolbypassrls: boolean;
  rolcreaterole: boolean;
  rolinherit: boolean;
  owner_member: boolean;
  owns_tables: boolean;
  app_member: boolean;
  platform_member: boolean;
}

/** What stops the login of `runtime` being a safe runtime login (empty: nothing), and whether it inherits. */
export async function runtimeLoginProblems(runtime: Driver): Promise<{ name: string; problems: string[]; inherits: boolean }> {
  const res = await runtime.query<LoginFacts>(`
    SELECT r.rolname AS name, r.rolsuper, r.rolbypassrls, r.rolcreaterole, r.rolinherit,
      pg_has_role(r.oid, (SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname = 'tenants'), 'MEMBER') AS owner_member,
      EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relowner = r.oid) AS owns_tables,
      pg_has_role(r.oid, 'atrium_app', 'MEMBER') AS app_member,
      pg_has_role(r.oid, 'atrium_platform', 'MEMBER') AS platform_member
    FROM pg_roles r WHERE r.rolname = current_user`);
  const f = res.rows[0];
  if (!f) throw new Error('DATABASE_URL: cannot read the runtime login\'s own role');
  const problems = [
    f.rolsuper && 'is a superuser',
    f.rolbypassrls && 'has BYPASSRLS',
    f.rolcreaterole && 'has CREATEROLE',
    f.owner_member && "can become the tables' owner",
    f.owns_tables && 'owns tables in schema public',
    !f.app_member && 'is not a member of atrium_app',
    !f.platform_member && 'is not a member of atrium_platform',
  ].filter((p): p is string => typeof p === 'string');
  return { name: f.name, problems, inherits: f.rolinherit };
}

export async function checkRuntimeLogin(runtime: Driver, log: Logger): Promise<void> {
  const { name, problems, inherits } = await runtimeLoginProblems(runtime);
  if (problems.length) throw new Error(`DATABASE_URL: the runtime login "${name}" ${problems.join(', ')} (see README, Database roles)`);
  if (inherits) log.warn({ login: name }, 'the runtime database login inherits its roles\' privileges; create it NOINHERIT (README, Database roles)');
}
