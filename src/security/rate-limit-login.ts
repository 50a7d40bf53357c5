/**
 * Limits on the sign-in form, checked before any password is hashed: per client IP and per
 * account (tenant + lowercased email, whether or not the account exists, so a refusal
 * says nothing about which emails are registered). Every attempt counts; a successful
 * sign-in clears its account's count, so a user who finally gets it right starts afresh
 * while the IP's count stays.
 */
import { LRUCache } from 'lru-cache';
import type { Tenant } from '../tenancy/tenant.ts';
import type { RateLimiter } from './rate-limiter.ts';
import { rateLimitRules } from './rate-limit-rules.ts';

export interface LoginRejection {
  limit: 'login_per_ip' | 'login_per_account';
  retryAfterSeconds: number;
  /**
   * Whether to write an audit event for this refusal: the first per subject and minute on
   * this instance. A flood of refused attempts must not become a flood of database writes,
   * which is half of what the limit protects.
   */
  audit: boolean;
}

export class LoginRateLimits {
  readonly #limiter: RateLimiter;
  readonly #audited = new LRUCache<string, true>({ max: 10_000, ttl: 60_000 });

  constructor(limiter: RateLimiter) {
    this.#limiter = limiter;
  }

  /** Counts one attempt; says why it is refused, or undefined when it may go ahead. */
  async check(tenant: Pick<Tenant, 'id' | 'config'>, attempt: { ip: string; email: string }): Promise<LoginRejection | undefined> {
    const rules = rateLimitRules(tenant);
    const byIp = await this.#limiter.consume({ tenantId: tenant.id, subject: attempt.ip }, rules.login_per_ip);
    if (!byIp.allowed) return this.#rejection(tenant.id, 'login_per_ip', attempt.ip, byIp.retryAfterSeconds);
    const account = attempt.email.toLowerCase();
    if (!account) return undefined;
    const byAccount = await this.#limiter.consume({ tenantId: tenant.id, subject: account }, rules.login_per_account);
    if (!byAccount.allowed) return this.#rejection(tenant.id, 'login_per_account', account, byAccount.retryAfterSeconds);
    return undefined;
  }

  /** After a successful sign-in: the account's earlier attempts no longer count against it. */
  async succeeded(tenant: Pick<Tenant, 'id' | 'config'>, email: string): Promise<void> {
    await this.#limiter.reset({ tenantId: tenant.id, subject: email.toLowerCase() }, rateLimitRules(tenant).login_per_account);
  }

  #rejection(tenantId: string, limit: LoginRejection['limit'], subject: string, retryAfterSeconds: number): LoginRejection {
    const id = `${tenantId}\u0000${limit}\u0000${subject}`;
    const audit = !this.#audited.has(id);
    if (audit) this.#audited.set(id, true);
    return { limit, retryAfterSeconds, audit };
  }
}

/** What the sign-in page says when an attempt is refused (a translation key and its values); it names no limit and no account. */
export function tooManyAttemptsMessage(retryAfterSeconds: number): { key: string; vars: { count: number } } {
  if (retryAfterSeconds < 60) return { key: retryAfterSeconds === 1 ? 'login.wait_one_second' : 'login.wait_seconds', vars: { count: retryAfterSeconds } };
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return { key: minutes === 1 ? 'login.wait_one_minute' : 'login.wait_minutes', vars: { count: minutes } };
}
