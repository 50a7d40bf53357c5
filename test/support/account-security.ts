/** Helpers for the account security tests: a tenant's security settings, its audit trail, direct database checks. */
import assert from 'node:assert/strict';
import type { TestAtrium } from './atrium.ts';
import { runAsTenant } from '../../src/core/request-context.ts';
import type { Queryable } from '../../src/storage/database.ts';

/** Replaces a tenant's `security` overrides through the configuration API. */
export async function setSecurity(t: TestAtrium, slug: string, security: Record<string, unknown>): Promise<void> {
  const res = await t.api('PUT', `/tenants/${slug}/config/security`, security);
  assert.equal(res.status, 200, JSON.stringify(res.body));
}

/** Generous sign-in limits, so tests that count failures meet the lockout, not the rate limit. */
export const ROOMY_RATE_LIMITS = {
  login_per_ip: { limit: 600, window_seconds: 60 },
  login_per_account: { limit: 100, window_seconds: 900 },
};

/** Runs SQL as the application under the tenant's row-level security (what the tests inspect or age). */
export async function asTenant<T>(t: TestAtrium, slug: string, fn: (q: Queryable) => Promise<T>): Promise<T> {
  const tenant = (await t.atrium.services.tenantStore.findBySlug(slug))!;
  return runAsTenant(tenant.id, () => t.atrium.services.db.withTenant(fn));
}

export async function auditActions(t: TestAtrium, slug: string): Promise<{ action: string; outcome: string; target: string | null; details: any }[]> {
  return asTenant(t, slug, async (q) => (await q.query<{ action: string; outcome: string; target: string | null; details: any }>('SELECT action, outcome, target, details FROM audit_events ORDER BY at')).rows);
}

/** Makes every pending link of the tenant expired, as if its lifetime had passed. */
export async function expireLinks(t: TestAtrium, slug: string): Promise<void> {
  await asTenant(t, slug, (q) => q.query(`UPDATE account_tokens SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`));
}

/** A page's text without tags and the per-request bits (CSRF token, correlation id), to compare two answers. */
export function comparablePage(html: string): string {
  return html
    .replace(/name="csrf" value="[^"]*"/g, 'name="csrf" value=""')
    .replace(/<code>[^<]*<\/code>/g, '<code></code>');
}
