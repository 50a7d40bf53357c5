/**
 * Account lockout per tenant, two tenants side by side: "strict" locks after 3 wrong
 * passwords for 1 s, doubling; "lenient" keeps the default 10. A locked account answers
 * exactly like a wrong password, even to the right one; an admin can unlock it, and only
 * through its own tenant.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { openLoginForm } from './support/rate-limit-helpers.ts';
import { asTenant, auditActions, comparablePage, ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import { sweepExpiredPayloads } from '../src/runtime/expiry-sweeper.ts';

let t: TestAtrium;
let strict: TenantFixture;
let lenient: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  [strict, lenient] = await Promise.all([createTenantFixture(t, 'strict'), createTenantFixture(t, 'lenient')]);
  await setSecurity(t, 'strict', { lockout: { max_attempts: 3, duration_seconds: 1 }, rate_limits: ROOMY_RATE_LIMITS });
  await setSecurity(t, 'lenient', { rate_limits: ROOMY_RATE_LIMITS });
});
after(() => t?.stop());

async function attempt(f: TenantFixture, password: string): Promise<{ status: number; html: string }> {
  const form = await openLoginForm(f);
  const res = await form.submit(f.email, password);
  return { status: res.status, html: await res.text() };
}

async function wrong(f: TenantFixture, times: number): Promise<void> {
  for (let i = 0; i < times; i++) assert.equal((await attempt(f, `wrong password ${i}`)).status, 401);
}

const lockout = async (slug: string, userId: string) => (await t.api('GET', `/tenants/${slug}/users/${userId}/lockout`)).body;

/** The login page without what differs per request (form token, correlation id, the interaction's URLs, a passkey challenge). */
const shape = (html: string) =>
  comparablePage(html)
    .replace(/\/interaction\/[^/"]+/g, '/interaction/x')
    .replace(/interaction=[^"&]+/g, 'interaction=x')
    .replace(/data-options="[^"]*"/g, 'data-options=""');

describe('lockout', () => {
  it('locks after the tenant\'s max_attempts; a locked account answers like a wrong password, even to the right one', async () => {
    await wrong(strict, 2);
    assert.equal((await lockout('strict', strict.userId)).locked, false);
    const third = await attempt(strict, 'wrong password again');
    assert.equal(third.status, 401);
    const state = await lockout('strict', strict.userId);
    assert.equal(state.locked, true);
    assert.equal(state.lockouts, 1);
    const right = await attempt(strict, strict.password);
    assert.equal(right.status, 401, 'the right password is refused while locked');
    assert.equal(shape(right.html), shape(third.html), 'the same page as a wrong password');
    assert.match(right.html, /The email or password is incorrect/);
    const audit = await auditActions(t, 'strict');
    assert.ok(audit.some((e) => e.action === 'user.locked' && e.target === strict.userId && e.details.duration_seconds === 1));
  });

  it('the same failures do not lock an account of a tenant with a higher limit', async () => {
    await wrong(lenient, 3);
    assert.equal((await lockout('lenient', lenient.userId)).locked, false);
    assert.equal((await lockout('lenient', lenient.userId)).failed_attempts, 3);
    assert.equal((await attempt(lenient, lenient.password)).status, 303);
    assert.equal((await lockout('lenient', lenient.userId)).failed_attempts, 0, 'a success starts afresh');
  });

  it('a lock runs out, and the next one lasts twice as long', async () => {
    await new Promise((r) => setTimeout(r, 1_100));
    assert.equal((await lockout('strict', strict.userId)).locked, false);
    await wrong(strict, 3);
    const state = await lockout('strict', strict.userId);
    assert.equal(state.locked, true);
    assert.equal(state.lockouts, 2);
    // The duration as decided (exact), then as stored: still running, and no longer than 2 s
    // (how much is left depends on how busy the machine was since, so no lower bound).
    const audit = await auditActions(t, 'strict');
    assert.ok(audit.some((e) => e.action === 'user.locked' && e.target === strict.userId && e.details.duration_seconds === 2), 'the second lock lasts 2 s');
    const left = new Date(state.locked_until).getTime() - Date.now();
    assert.ok(left > 0 && left <= 2_100, `second lock lasts ~2 s, ${left} ms left`);
  });

  it('an admin unlocks through the API, only within the account\'s tenant', async () => {
    // The 2 s lock of the test before may have run out on a busy machine: lock again (4 s).
    if (!(await lockout('strict', strict.userId)).locked) await wrong(strict, 3);
    assert.equal((await lockout('strict', strict.userId)).locked, true);
    const elsewhere = await t.api('POST', `/tenants/lenient/users/${strict.userId}/unlock`);
    assert.equal(elsewhere.status, 404);
    assert.equal((await lockout('strict', strict.userId)).locked, true);
    const unlocked = await t.api('POST', `/tenants/strict/users/${strict.userId}/unlock`);
    assert.equal(unlocked.status, 200);
    assert.equal(unlocked.body.locked, false);
    assert.equal((await attempt(strict, strict.password)).status, 303);
    assert.ok((await auditActions(t, 'strict')).some((e) => e.action === 'user.unlocked' && e.target === strict.userId));
  });

  it('the lockout state is read only within the account\'s tenant; a malformed id is a 404', async () => {
    const elsewhere = await t.api('GET', `/tenants/lenient/users/${strict.userId}/lockout`);
    assert.equal(elsewhere.status, 404);
    assert.equal(elsewhere.body.error, 'not_found');
    for (const id of ['not-a-uuid', 'x'.repeat(500)]) {
      assert.equal((await t.api('GET', `/tenants/strict/users/${id}/lockout`)).status, 404, id);
      assert.equal((await t.api('POST', `/tenants/strict/users/${id}/unlock`)).status, 404, id);
    }
  });

  it('unlocking an unknown user is a 404, and needs the write scope', async () => {
    const unknown = await t.api('POST', `/tenants/strict/users/00000000-0000-4000-8000-000000000000/unlock`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error, 'not_found');
    const noScope = await t.api('POST', `/tenants/strict/users/${strict.userId}/unlock`, undefined, await t.platformToken('atrium:tenants:read'));
    assert.equal(noScope.status, 403);
  });

  it('a day without failures forgets an account\'s count (the sweeper), a running lock is kept', async () => {
    await wrong(lenient, 2);
    assert.equal((await lockout('lenient', lenient.userId)).failed_attempts, 2);
    await asTenant(t, 'lenient', (q) => q.query("UPDATE login_lockouts SET updated_at = now() - interval '2 days'"));
    await wrong(strict, 3); // locks (max_attempts 3)
    await asTenant(t, 'strict', (q) => q.query("UPDATE login_lockouts SET updated_at = now() - interval '2 days', locked_until = now() + interval '1 hour'"));
    await sweepExpiredPayloads(t.atrium.services.db);
    assert.equal((await lockout('lenient', lenient.userId)).failed_attempts, 0, 'forgotten');
    assert.equal((await lockout('strict', strict.userId)).locked, true, 'a lock still running is not swept');
  });
});
