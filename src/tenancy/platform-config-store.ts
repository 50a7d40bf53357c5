/**
 * `platform_config` (migration 018): the operator's policy, one row per section. A platform
 * table, read and written only on the audited cross-tenant path (atrium_platform).
 */
import type { Database } from '../storage/database.ts';
import type { PlatformSectionSettings } from '../config/platform-policy.ts';

export interface PlatformConfigRow {
  section: string;
  settings: PlatformSectionSettings;
  version: number;
  updatedAt: Date;
  updatedBy: string | null;
}

interface Row {
  section: string;
  settings: PlatformSectionSettings | null;
  version: number | string;
  updated_at: Date | string;
  updated_by: string | null;
}

const toRow = (r: Row): PlatformConfigRow => ({ section: r.section, settings: r.settings ?? {}, version: Number(r.version), updatedAt: new Date(r.updated_at), updatedBy: r.updated_by });

export class PlatformConfigStore {
  readonly #db: Database;
  constructor(db: Database) {
    this.#db = db;
  }

  async readAll(): Promise<PlatformConfigRow[]> {
    return this.#db.crossTenant('read the platform configuration', async (q) => {
      const res = await q.query<Row>('SELECT section, settings, version, updated_at, updated_by FROM platform_config ORDER BY section');
      return res.rows.map(toRow);
    });
  }

  /** Replaces one section's settings; its version grows by one. */
  async write(section: string, settings: PlatformSectionSettings, updatedBy: string | null): Promise<PlatformConfigRow> {
    return this.#db.crossTenant('change the platform configuration', async (q) => {
      const res = await q.query<Row>(
        `INSERT INTO platform_config (section, settings, updated_by) VALUES ($1, $2, $3)
         ON CONFLICT (section) DO UPDATE SET settings = EXCLUDED.settings, version = platform_config.version + 1, updated_at = now(), updated_by = EXCLUDED.updated_by
         RETURNING section, settings, version, updated_at, updated_by`,
        [section, settings, updatedBy],
      );
      return toRow(res.rows[0]!);
    });
  }
}
