/**
 * Versioned migrations: `migrations/NNN_name.sql`, applied in order at start, each in its
 * own transaction, under an advisory lock so that instances starting together take turns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Driver } from './driver.ts';

const MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');
const LOCK_ID = 720_517_331; // arbitrary, constant: "atrium migrations"

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function listMigrations(): Migration[] {
  return readdirSync(MIGRATIONS_DIR)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: Number(f.slice(0, 3)), name: f.slice(4, -4), sql: readFileSync(path.join(MIGRATIONS_DIR, f), 'utf8') }));
}

export const LATEST_MIGRATION = Math.max(...listMigrations().map((m) => m.version));

export async function migrate(driver: Driver, log: Logger): Promise<void> {
  for (const m of listMigrations()) {
    // The lock comes first, even before creating the bookkeeping table: two instances
    // starting on a fresh database would otherwise race on CREATE TABLE.
    await driver.transaction(`SELECT pg_advisory_xact_lock(${LOCK_ID})`, async (q) => {
      await q.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
      const done = await q.query('SELECT 1 FROM schema_migrations WHERE version = $1', [m.version]);
      if (done.rowCount > 0) return;
      log.info({ version: m.version, name: m.name }, 'applying migration');
      await q.exec(m.sql);
      await q.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    });
  }
}

export async function currentMigration(driver: Pick<Driver, 'query'>): Promise<number> {
  const res = await driver.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
  return res.rows[0]?.v ?? 0;
}
