/**
 * The "new sign-in" mail: when a user completes a sign-in from a device (as the tenant's
 * device matching defines one: accounts/device-identity.ts) they have not used before, and they have used at least one other,
 * they are told by mail, unless the tenant turned that alert off (security-alerts.ts).
 * The first device of an account is not news.
 */
import type { UserStore } from '../accounts/user-store.ts';
import type { Database } from '../storage/database.ts';
import type { Tenant } from '../tenancy/tenant.ts';
import { deviceOf, matchesNetwork } from '../accounts/device-identity.ts';
import type { MailService } from './mail-service.ts';
import { securityAlertWanted } from './security-alerts.ts';

export interface SignInSeen {
  userId: string;
  ip: string;
  userAgent: string;
}

export class NewDeviceAlerts {
  readonly #db: Database;
  readonly #users: UserStore;
  readonly #mail: MailService;

  constructor(deps: { db: Database; users: UserStore; mail: MailService }) {
    this.#db = deps.db;
    this.#users = deps.users;
    this.#mail = deps.mail;
  }

  /** Notes the device of a completed sign-in (tenant in context) and mails the user when it is new. */
  async signedIn(tenant: Tenant, seen: SignInSeen): Promise<boolean> {
    const { label: device, hash } = deviceOf(seen.userAgent, seen.ip, matchesNetwork(tenant));
    const { isNew, others } = await this.#db.withTenant(async (q) => {
      const res = await q.query<{ inserted: boolean }>(
        `INSERT INTO known_devices (tenant_id, user_id, device_hash) VALUES (current_setting('app.tenant_id')::uuid, $1, $2)
         ON CONFLICT (tenant_id, user_id, device_hash) DO UPDATE SET last_seen_at = now()
         RETURNING (xmax = 0) AS inserted`,
        [seen.userId, hash],
      );
      const count = await q.query<{ n: string }>('SELECT count(*) AS n FROM known_devices WHERE user_id = $1 AND device_hash <> $2', [seen.userId, hash]);
      return { isNew: res.rows[0]?.inserted === true, others: Number(count.rows[0]?.n ?? 0) };
    });
    if (!isNew || others === 0) return false;
    const user = await this.#users.findById(seen.userId);
    if (!user) return false;
    this.#mail.textAlert(tenant, user.email, 'new_device');
    if (!securityAlertWanted(tenant, 'new_device')) return false;
    await this.#mail.send(tenant, user.email, 'new-sign-in', { when: new Date().toUTCString(), ip: seen.ip, device });
    return true;
  }
}
