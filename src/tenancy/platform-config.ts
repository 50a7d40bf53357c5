/**
 * The operator's policy in force on this instance (config/platform-policy.ts), read from
 * `platform_config` and changed by platform admins (API, /platform). Every tenant record
 * carries the policy it was read under (tenant-store.ts), so a change makes the registry
 * read the records again (listeners, wired in services.ts) and everything derived from a
 * record follows: merged configuration, MFA policy, password policy, token lifetimes, and
 * the pooled Providers built from them (their policy version is older: rebuilt).
 *
 * A change is published on the bus (`platform.changed`); another instance reloads from the
 * database. An event it missed is repaired by a re-read at most every few seconds, started by
 * a lookup (stale-while-revalidate, as the tenant registry does for tenants).
 */
import type { Logger } from 'pino';
import type { EventBus } from '../events/bus.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { badRequest } from '../core/errors.ts';
import { currentContext, runAsTenant } from '../core/request-context.ts';
import { BUILT_IN_POLICY, effectiveSection, storedSection, getPath, isPlatformSection, parsePlatformSection, PLATFORM_FIELDS, PLATFORM_SECTIONS, type PlatformPolicy, type PlatformSection, type PlatformSectionSettings } from '../config/platform-policy.ts';
import { sectionUnder } from './tenant-config.ts';
import type { PlatformConfigRow, PlatformConfigStore } from './platform-config-store.ts';
import type { Tenant } from './tenant.ts';

/** How long a loaded policy is trusted before a lookup re-reads it in the background. */
const RECHECK_MS = 3_000;

export interface PlatformSectionView {
  section: PlatformSection;
  version: number;
  updated_at: string | null;
  settings: Record<string, unknown>;
}

/** A tenant whose effective values a proposed change would move, and how. */
export interface AffectedTenant {
  slug: string;
  name: string;
  /** Per field: the tenant's own stored value (undefined: it has none, a default applies), the value in force now, and after the change. */
  changes: { field: string; own: unknown; from: unknown; to: unknown }[];
}

export interface PlatformConfigDeps {
  store: PlatformConfigStore;
  bus: EventBus;
  audit: AuditLog;
  log: Logger;
  /** The platform tenant's id, where changes are audited (undefined before bootstrap). */
  platformTenantId: () => Promise<string | undefined>;
  /** Every tenant's record, for the preview (the tenant store's list). */
  allTenants: () => Promise<Tenant[]>;
}

export class PlatformConfig {
  readonly #deps: PlatformConfigDeps;
  #policy: PlatformPolicy = BUILT_IN_POLICY;
  #rows = new Map<string, PlatformConfigRow>();
  #checkedAt = 0;
  #reloading: Promise<void> | undefined;
  readonly #listeners: (() => void)[] = [];

  constructor(deps: PlatformConfigDeps) {
    this.#deps = deps;
    deps.bus.subscribe((event) => {
      if (event.type === 'platform.changed') void this.reload();
    });
  }

  /** Called after the policy in force changed (the registry forgets its records). */
  onChange(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** The policy in force; a lookup past the recheck interval re-reads it in the background. */
  current(): PlatformPolicy {
    if (Date.now() - this.#checkedAt > RECHECK_MS) void this.reload();
    return this.#policy;
  }

  /** Reads the stored sections; a newer policy replaces the one in force and tells the listeners. */
  reload(): Promise<void> {
    this.#reloading ??= this.#load().finally(() => (this.#reloading = undefined));
    return this.#reloading;
  }

  async #load(): Promise<void> {
    let rows: PlatformConfigRow[];
    try {
      rows = await this.#deps.store.readAll();
    } catch (err) {
      // The database is away: keep the policy in force (no request should fail over it).
      this.#deps.log.warn({ err: (err as Error).message }, 'could not re-read the platform configuration; keeping the one in force');
      return;
    }
    this.#checkedAt = Date.now();
    const version = rows.reduce((sum, r) => sum + r.version, 0);
    if (version === this.#policy.version) return;
    this.#rows = new Map(rows.map((r) => [r.section, r]));
    const stored = Object.fromEntries(PLATFORM_SECTIONS.map((s) => [s, Object.freeze({ ...this.#rows.get(s)?.settings })]));
    this.#policy = Object.freeze({ version, stored: Object.freeze(stored) as PlatformPolicy['stored'] });
    for (const listener of this.#listeners) listener();
  }

  /** One section as the operator sees it: every bounded field with its floor, ceiling or default in force. */
  read(section: string): PlatformSectionView {
    const name = sectionName(section);
    const row = this.#rows.get(name);
    return { section: name, version: row?.version ?? 0, updated_at: row?.updatedAt.toISOString() ?? null, settings: effectiveSection(this.#policy, name) };
  }

  /** The operator's own settings of a section, nested as PUT takes them (what the /platform form shows). */
  stored(section: string): Record<string, unknown> {
    return storedSection(this.#policy, sectionName(section));
  }

  /**
   * Validates a proposed section (400 naming each problem) and lists the tenants whose
   * effective values it would move: a value below a raised floor or above a lowered ceiling,
   * or a tenant without a value when the default changes. Changes nothing (the dry run of
   * /platform and POST /api/v1/platform/config/:section/preview).
   */
  async preview(section: string, input: unknown): Promise<{ settings: PlatformSectionSettings; affected: AffectedTenant[] }> {
    const name = sectionName(section);
    const settings = parseOrRefuse(name, input);
    const proposed: PlatformPolicy = { version: this.#policy.version + 1, stored: { ...this.#policy.stored, [name]: settings } };
    const affected: AffectedTenant[] = [];
    for (const tenant of await this.#deps.allTenants()) {
      const changes = effectiveChanges(tenant, name, this.#policy, proposed);
      if (changes.length) affected.push({ slug: tenant.slug, name: tenant.name, changes });
    }
    return { settings, affected };
  }

  /** Replaces one section's settings: stored, in force here at once, published to every instance, audited on the platform. */
  async update(section: string, input: unknown): Promise<PlatformSectionView & { affected_tenants: string[] }> {
    const name = sectionName(section);
    const { settings, affected } = await this.preview(name, input);
    const actor = currentContext()?.actor?.id ?? null;
    const row = await this.#deps.store.write(name, settings, actor);
    await this.reload();
    await this.#deps.bus.publish({ type: 'platform.changed', section: name, version: row.version });
    const platformId = await this.#deps.platformTenantId();
    const details = { section: name, version: row.version, settings, affected_tenants: affected.map((a) => a.slug) };
    if (platformId) await runAsTenant(platformId, () => this.#deps.audit.record({ action: 'platform.config_changed', target: name, details }));
    return { ...this.read(name), affected_tenants: details.affected_tenants };
  }
}

function sectionName(section: string): PlatformSection {
  if (!isPlatformSection(section)) throw badRequest(`no platform configuration section "${section.slice(0, 64)}" (sections: ${PLATFORM_SECTIONS.join(', ')})`, 'invalid_platform_config');
  return section;
}

function parseOrRefuse(section: PlatformSection, input: unknown): PlatformSectionSettings {
  const { settings, problems } = parsePlatformSection(section, input);
  if (problems.length) throw badRequest(problems.join('; '), 'invalid_platform_config');
  return settings;
}

/** The bounded fields of `section` whose value for this tenant differs between two policies. */
function effectiveChanges(tenant: Tenant, section: PlatformSection, before: PlatformPolicy, after: PlatformPolicy): AffectedTenant['changes'] {
  const was = sectionUnder(before, tenant, section);
  const will = sectionUnder(after, tenant, section);
  const changes: AffectedTenant['changes'] = [];
  for (const field of Object.keys(PLATFORM_FIELDS[section])) {
    const from = getPath(was, field.split('.'));
    const to = getPath(will, field.split('.'));
    if (from !== to) changes.push({ field: `${section}.${field}`, own: getPath(tenant.config[section], field.split('.')), from, to });
  }
  return changes;
}
