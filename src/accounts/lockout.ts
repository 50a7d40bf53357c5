/**
 * Account lockout (`security.lockout`): after `max_attempts` wrong passwords in a row an
 * account is locked for `duration_seconds`, each further lock twice as long as the one
 * before, up to a day. A successful sign-in or an admin's unlock starts it afresh. A
 * locked account answers exactly like a wrong password (same status, page and hashing
 * work), so a lock tells an attacker nothing. Counted per tenant and email (known or not,
 * so both take the same work) in `login_lockouts`, under the tenant's row-level security; the per-IP and per-email rate limits
 * (security/rate-limit-login.ts) still apply before any of this.
 */
import { createHmac } from 'node:crypto';
import type { Database } from '../storage/database.ts';
import type { SecretBox } from '../core/secret-box.ts';
import { currentTenantId } from '../core/request-context.ts';
import type { User } from './user-store.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { mergedSection } from '../tenancy/tenant-config.ts';
import type { SignInGuard } from './sign-in.ts';

/** A lock never lasts longer than this, however often it doubled. */
export const LOCKOUT_MAX_DURATION_SECONDS = 86_400;

export interface LockoutPolicy {
  maxAttempts: number;
  durationSeconds: number;
}

/** The tenant's `security.lockout` over the platform defaults (config/tenant-config-constraints.ts). */
function lockoutPolicy(tenant: Pick<Tenant, 'config'>): LockoutPolicy {
  const positive = (v: unknown, fallback: number) => (typeof v === 'number' && v > 0 ? v : fallback);
  const l = lockoutSettings(tenant);
  // A stored value the schema would refuse (written around the API) falls back to the default.
  return { maxAttempts: positive(l.max_attempts, DEFAULTS.max_attempts), durationSeconds: positive(l.duration_seconds, DEFAULTS.duration_seconds) };
}

type LockoutSettings = { max_attempts?: unknown; duration_seconds?: unknown };
const lockoutSettings = (tenant: Pick<Tenant, 'config'>) => (mergedSection(tenant, 'security').lockout ?? {}) as LockoutSettings;
const DEFAULTS = lockoutSettings({ config: {} }) as { max_attempts: number; duration_seconds: number };

/** How long the lock after `previousLocks` earlier ones lasts: doubling, capped. */
export function lockDurationSeconds(policy: LockoutPolicy, previousLocks: number): number {
  return Math.min(policy.durationSeconds * 2 ** Math.min(previousLocks, 30), LOCKOUT_MAX_DURATION_SECONDS);
}

export interface LockoutStatus {
  failedAttempts: number;
  lockouts: number;
  lockedUntil: Date | null;
}

interface Row { failed_attempts: number; lockouts: number; locked_until: Date | string | null; locked: boolean }

export class LoginLockout {
  readonly #db: Database;
  readonly #audit: AuditLog;
  readonly #box: SecretBox;

  constructor(deps: { db: Database; audit: AuditLog; box: SecretBox }) {
    this.#db = deps.db;
    this.#audit = deps.audit;
    this.#box = deps.box;
  }

  /** The stored name of an account: HMAC of the lowercased email under a key of the tenant. */
  #subject(tenantId: string, email: string): string {
    const key = this.#box.deriveKeys('login-lockout', tenantId)[0]!;
    return createHmac('sha256', key).update(email.trim().toLowerCase()).digest('base64url');
  }

  /** What the sign-in of the tenant in context consults after checking a password. */
  guard(tenant: Pick<Tenant, 'id' | 'config'>): SignInGuard {
    const policy = lockoutPolicy(tenant);
    return { admit: (attempt) => this.#admit(policy, this.#subject(tenant.id, attempt.email), attempt) };
  }

  /**
   * One transaction per attempt, the same for known and unknown emails: a locked account is
   * refused whatever the password (and its attempts are not counted); a failed attempt
   * counts and may start a lock; a success clears the record.
   */
  async #admit(policy: LockoutPolicy, subject: string, attempt: { email: string; succeeded: boolean; userId: string | undefined }): Promise<boolean> {
    const outcome = await this.#db.withTenant(async (q) => {
      const current = await q.query<Row>('SELECT failed_attempts, lockouts, locked_until, locked_until > now() AS locked FROM login_lockouts WHERE subject = $1 FOR UPDATE', [subject]);
      if (current.rows[0]?.locked) return { admitted: false, startedLock: undefined };
      if (attempt.succeeded) {
        await q.query('DELETE FROM login_lockouts WHERE subject = $1', [subject]);
        return { admitted: true, startedLock: undefined };
      }
      // A lock that has run out keeps its count of locks (so the next one lasts longer) but no attempts.
      const counted = await q.query<Row>(
        `INSERT INTO login_lockouts (tenant_id, subject, failed_attempts) VALUES (current_setting('app.tenant_id')::uuid, $1, 1)
         ON CONFLICT (tenant_id, subject) DO UPDATE SET
           failed_attempts = CASE WHEN login_lockouts.locked_until IS NOT NULL THEN 1 ELSE login_lockouts.failed_attempts + 1 END,
           locked_until = NULL, updated_at = now()
         RETURNING failed_attempts, lockouts, locked_until, false AS locked`,
        [subject],
      );
      const row = counted.rows[0]!;
      if (row.failed_attempts < policy.maxAttempts) return { admitted: false, startedLock: undefined };
      const seconds = lockDurationSeconds(policy, row.lockouts);
      await q.query(
        `UPDATE login_lockouts SET failed_attempts = 0, lockouts = lockouts + 1, locked_until = now() + make_interval(secs => $2), updated_at = now() WHERE subject = $1`,
        [subject, seconds],
      );
      return { admitted: false, startedLock: { seconds, lockNumber: row.lockouts + 1 } };
    });
    if (outcome.startedLock && attempt.userId) {
      await this.#audit.record({ action: 'user.locked', outcome: 'failure', actor: null, target: attempt.userId, details: { duration_seconds: outcome.startedLock.seconds, lock_number: outcome.startedLock.lockNumber } });
    }
    return outcome.admitted;
  }

  /** The stored name of a user of the tenant in context (callers already hold the user: no second read). */
  #subjectOfUser(user: Pick<User, 'email'>): string | undefined {
    const tenantId = currentTenantId();
    return tenantId ? this.#subject(tenantId, user.email) : undefined;
  }

  /** The lockout state of a user of the tenant in context. */
  async status(user: Pick<User, 'email'>): Promise<LockoutStatus> {
    const subject = this.#subjectOfUser(user);
    const row = subject
      ? (await this.#db.withTenant((q) => q.query<Row>('SELECT failed_attempts, lockouts, locked_until, locked_until > now() AS locked FROM login_lockouts WHERE subject = $1', [subject]))).rows[0]
      : undefined;
    return { failedAttempts: row?.failed_attempts ?? 0, lockouts: row?.lockouts ?? 0, lockedUntil: row?.locked ? new Date(row.locked_until!) : null };
  }

  /** Lifts any lock of a user of the tenant in context and forgets the failures; true when there was something to clear. */
  /** Lifts the user's lockout and failure count; audited as the request's actor, whether or not one was set. */
  async unlock(user: Pick<User, 'id' | 'email'>, meta: { actor?: string; ip?: string; userAgent?: string } = {}): Promise<boolean> {
    const subject = this.#subjectOfUser(user);
    const res = subject ? await this.#db.withTenant((q) => q.query('DELETE FROM login_lockouts WHERE subject = $1', [subject])) : { rowCount: 0 };
    const cleared = (res.rowCount ?? 0) > 0;
    await this.#audit.record({ action: 'user.unlocked', actor: meta.actor, target: user.id, ip: meta.ip, userAgent: meta.userAgent, details: { had_failures: cleared } });
    return cleared;
  }
}
