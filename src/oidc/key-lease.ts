/**
 * A named lease in the `leases` table: at most one holder at a time until it expires, so a
 * background job runs on one instance while every instance runs the timer. The holder
 * extends its lease on every run; a holder that dies stops extending it, and once it has
 * expired the next instance to ask takes it over.
 *
 * Why the database and not Redis (SET NX PX) even when REDIS_URL is set: the lease guards
 * work on database rows, so one mechanism serves PGlite, a single PostgreSQL and many
 * instances, and is tested the same way everywhere; a Redis outage (which Atrium otherwise
 * degrades through) does not stop key rotation; expiry is judged by the database clock,
 * the clock that also dates the keys. The lease only keeps instances from doing the same
 * work: it is not what makes rotation happen once. Each rotation is itself conditional
 * (SigningKeyStore.rotateIfDue), so a holder that outlives its lease (a long pause) can at
 * worst repeat a check, never a rotation.
 */
import type { Database } from '../storage/database.ts';

export class DatabaseLease {
  readonly #db: Database;
  readonly name: string;
  readonly ttlMs: number;

  constructor(db: Database, name: string, ttlMs: number) {
    this.#db = db;
    this.name = name;
    this.ttlMs = ttlMs;
  }

  /**
   * Takes the lease for `holder`, or extends it when `holder` already has it. False while
   * another holder's lease runs. One statement: two instances asking at once cannot both win
   * (the second waits on the first's row, then finds its WHERE false).
   */
  async acquire(holder: string): Promise<boolean> {
    return this.#db.crossTenant(`lease ${this.name}`, async (q) => {
      const res = await q.query(
        `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE leases.expires_at < now() OR leases.holder = EXCLUDED.holder
         RETURNING holder`,
        [this.name, holder, this.ttlMs / 1000],
      );
      return res.rows.length === 1;
    });
  }

  /** Gives the lease up (at shutdown), so another instance need not wait for it to expire. */
  async release(holder: string): Promise<void> {
    await this.#db.crossTenant(`release lease ${this.name}`, (q) => q.query('DELETE FROM leases WHERE name = $1 AND holder = $2', [this.name, holder]));
  }
}
