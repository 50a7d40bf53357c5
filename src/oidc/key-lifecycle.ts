/**
 * The signing key lifecycle job: every instance runs the timer, the holder of the
 * `key-lifecycle` lease does the work. Each run scans the tenants (cross-tenant, in
 * batches), rotates those whose current keys are older than `oidc.key_rotation_days`, and
 * removes retired keys once every token they signed has expired. Each tenant's change is
 * made under its own row-level security and announced with `touched`, so every instance
 * rebuilds that tenant's Provider.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Database } from '../storage/database.ts';
import { runAsTenant } from '../core/request-context.ts';
import type { TenantService } from '../tenancy/tenant-service.ts';
import { DatabaseLease } from './key-lease.ts';
import { keyRotationDays, keyRotationSeconds, retiredKeyRetentionSeconds } from './key-schedule.ts';
import type { SigningKeyInfo, SigningKeyStore } from './signing-keys.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import type { PlatformPolicy } from '../config/platform-policy.ts';

export const KEY_LIFECYCLE_LEASE = 'key-lifecycle';
const DEFAULT_INTERVAL_MS = 60_000;
const ACTOR = 'system:key-lifecycle';

export interface KeyLifecycleDeps {
  db: Database;
  keys: SigningKeyStore;
  tenants: TenantService;
  audit: AuditLog;
  log: Logger;
  /** The operator's policy in force: its floor, ceiling and default of key_rotation_days, its token lifetimes. */
  policy: () => PlatformPolicy;
}

export interface KeyLifecycleOptions {
  /** How often every instance tries to run; 0 starts no timer (tests call `run`). Default 60 s. */
  intervalMs?: number;
  /** How long a holder keeps the lease without renewing it. Default three intervals (at least 30 s). */
  leaseTtlMs?: number;
  /** This instance's name in the lease. Default host/pid/random. */
  holder?: string;
  /** Tenants read per cross-tenant query. */
  batchSize?: number;
}

export interface KeyLifecycleRun {
  /** Whether this holder had the lease; a run without it does nothing. */
  leader: boolean;
  /** Slugs of the tenants rotated. */
  rotated: string[];
  /** Kids removed, by tenant slug. */
  removed: Record<string, string[]>;
}

interface TenantKeyAges {
  id: string;
  slug: string;
  oidc: Record<string, unknown> | null;
  now: Date | string;
  oldest_current: Date | string | null;
  oldest_retired: Date | string | null;
}

const age = (now: Date, since: Date | string | null) => (since === null ? -Infinity : (now.getTime() - new Date(since).getTime()) / 1000);

export class KeyLifecycle {
  readonly holder: string;
  readonly lease: DatabaseLease;
  readonly #deps: KeyLifecycleDeps;
  readonly #intervalMs: number;
  readonly #batchSize: number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<unknown> | undefined;
  #stopped = false;

  constructor(deps: KeyLifecycleDeps, options: KeyLifecycleOptions = {}) {
    this.#deps = deps;
    this.#intervalMs = options.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#batchSize = options.batchSize ?? 500;
    this.holder = options.holder ?? `${hostname()}/${process.pid}/${randomUUID().slice(0, 8)}`;
    this.lease = new DatabaseLease(deps.db, KEY_LIFECYCLE_LEASE, options.leaseTtlMs ?? Math.max(3 * (this.#intervalMs || DEFAULT_INTERVAL_MS), 30_000));
  }

  /** Starts the periodic run (unless the interval is 0); the timer never keeps the process alive. */
  start(): this {
    if (this.#intervalMs > 0 && !this.#timer) {
      this.#timer = setInterval(() => this.#tick(), this.#intervalMs);
      this.#timer.unref();
    }
    return this;
  }

  /** Stops the timer, lets a run in progress finish its current tenant, and gives the lease up. */
  /** Rotates now, on request (API, /admin, CLI): next becomes current and every instance rebuilds its Provider. */
  async rotateNow(tenant: Pick<Tenant, 'id' | 'slug'>): Promise<SigningKeyInfo[]> {
    const keys = await runAsTenant(tenant.id, () => this.#deps.keys.rotate(tenant.id));
    await this.#deps.tenants.touched(tenant, 'keys.rotated');
    await runAsTenant(tenant.id, () => this.#deps.audit.record({ action: 'keys.rotated', target: tenant.slug, details: {}, outcome: 'success' }));
    return keys;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#running?.catch(() => undefined);
    await this.lease.release(this.holder).catch((err: unknown) => this.#deps.log.warn({ err }, 'could not release the key lifecycle lease'));
  }

  #tick(): void {
    if (this.#running) return; // a slow run is not overlapped by the next tick
    this.#running = this.run()
      .then(
        (r) => r.leader && (r.rotated.length || Object.keys(r.removed).length) && this.#deps.log.info(r, 'key lifecycle run'),
        (err: unknown) => this.#deps.log.warn({ err }, 'key lifecycle run failed'),
      )
      .finally(() => (this.#running = undefined));
  }

  /** One pass over every tenant, if `holder` has (or can take) the lease. */
  async run(holder = this.holder): Promise<KeyLifecycleRun> {
    const result: KeyLifecycleRun = { leader: false, rotated: [], removed: {} };
    if (!(await this.lease.acquire(holder))) return result;
    result.leader = true;
    let after: string | null = null;
    for (;;) {
      const batch = await this.#scan(after);
      for (const row of batch) {
        if (this.#stopped) return result;
        const tenant = { config: { oidc: row.oidc ?? {} }, policy: this.#deps.policy() };
        const now = new Date(row.now);
        const rotate = age(now, row.oldest_current) >= keyRotationSeconds(tenant);
        const remove = age(now, row.oldest_retired) >= retiredKeyRetentionSeconds(tenant);
        if (!rotate && !remove) continue;
        // The lease may have run out during a long run: renew it before changing anything.
        if (!(await this.lease.acquire(holder))) return result;
        try {
          await this.#apply(row, tenant, { rotate, remove }, result);
        } catch (err) {
          this.#deps.log.warn({ err, tenant: row.slug }, 'key lifecycle failed for a tenant');
        }
      }
      if (batch.length < this.#batchSize) return result;
      after = batch[batch.length - 1]!.id;
    }
  }

  async #scan(after: string | null): Promise<TenantKeyAges[]> {
    return this.#deps.db.crossTenant('key lifecycle scan', async (q) => {
      const res = await q.query<TenantKeyAges>(
        `SELECT t.id, t.slug, t.config->'oidc' AS oidc, now() AS now,
                min(COALESCE(k.activated_at, k.created_at)) FILTER (WHERE k.status = 'current') AS oldest_current,
                min(COALESCE(k.retired_at, k.created_at)) FILTER (WHERE k.status = 'retired') AS oldest_retired
         FROM tenants t LEFT JOIN signing_keys k ON k.tenant_id = t.id
         WHERE $1::uuid IS NULL OR t.id > $1::uuid
         GROUP BY t.id ORDER BY t.id LIMIT $2`,
        [after, this.#batchSize],
      );
      return res.rows;
    });
  }

  async #apply(row: TenantKeyAges, tenant: { config: Record<string, unknown>; policy: PlatformPolicy }, todo: { rotate: boolean; remove: boolean }, result: KeyLifecycleRun): Promise<void> {
    const { keys, audit, tenants, log } = this.#deps;
    await runAsTenant(row.id, async () => {
      let changed = false;
      // Rotation first: the keys it retires are retired now, so the removal below keeps them.
      if (todo.rotate && (await keys.rotateIfDue(row.id, keyRotationSeconds(tenant)))) {
        changed = true;
        result.rotated.push(row.slug);
        await audit.record({ action: 'keys.rotated', actor: ACTOR, target: row.slug, details: { reason: 'schedule', key_rotation_days: keyRotationDays(tenant) } });
        log.info({ tenant: row.slug }, 'signing keys rotated on schedule');
      }
      if (todo.remove) {
        const kids = await keys.removeRetired(retiredKeyRetentionSeconds(tenant));
        if (kids.length) {
          changed = true;
          result.removed[row.slug] = kids;
          await audit.record({ action: 'keys.removed', actor: ACTOR, target: row.slug, details: { kids } });
          log.info({ tenant: row.slug, kids }, 'retired signing keys removed');
        }
      }
      if (changed) await tenants.touched(row, 'keys.rotated');
    });
  }
}
