/**
 * Accounts cannot be enumerated by timing: a sign-in with an unknown email, one with a
 * known email and a wrong password, and one to a locked account take the same time within
 * 20% (medians of 20, interleaved so that load on the machine hits all series alike; a
 * measurement that misses is taken again, up to three times, see assertSameTime). An
 * unknown email is checked against a dummy argon2 hash, so all of them pay for one hash.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { openLoginForm, type LoginForm } from './support/rate-limit-helpers.ts';
import { ROOMY_RATE_LIMITS, setSecurity } from './support/account-security.ts';
import { assertSameTime } from './support/timing.ts';

let t: TestAtrium;
let timing: TenantFixture;
let locking: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  [timing, locking] = await Promise.all([createTenantFixture(t, 'timing'), createTenantFixture(t, 'locking')]);
  await setSecurity(t, 'timing', { rate_limits: ROOMY_RATE_LIMITS, lockout: { max_attempts: 1000 } });
  await setSecurity(t, 'locking', { rate_limits: ROOMY_RATE_LIMITS, lockout: { max_attempts: 1, duration_seconds: 3600 } });
});
after(() => t?.stop());

async function timed(form: LoginForm, email: string, password: string): Promise<number> {
  const start = process.hrtime.bigint();
  const res = await form.submit(email, password);
  await res.text();
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  assert.equal(res.status, 401);
  return ms;
}

describe('sign-in timing', () => {
  it('unknown email and known email with a wrong password: same time within 20% (median of 20)', async () => {
    const form = await openLoginForm(timing);
    // Warm up both paths (the dummy hash, prepared statements, the JIT).
    for (let i = 0; i < 3; i++) {
      await timed(form, `ghost-${i}@timing.test`, 'some wrong password');
      await timed(form, timing.email, 'some wrong password');
    }
    let round = 0;
    await assertSameTime('unknown vs known', async () => {
      const unknown: number[] = [];
      const known: number[] = [];
      round++;
      for (let i = 0; i < 20; i++) {
        unknown.push(await timed(form, `nobody-${round}-${i}@timing.test`, `wrong password ${i}`));
        known.push(await timed(form, timing.email, `wrong password ${i}`));
      }
      return [unknown, known];
    });
  });

  it('a locked account answers in the same time as an unknown email', async () => {
    const form = await openLoginForm(locking);
    await timed(form, locking.email, 'the first wrong password'); // locks (max_attempts 1)
    assert.equal((await t.api('GET', `/tenants/locking/users/${locking.userId}/lockout`)).body.locked, true);
    for (let i = 0; i < 3; i++) {
      await timed(form, `ghost-${i}@locking.test`, 'some wrong password');
      await timed(form, locking.email, locking.password);
    }
    let round = 0;
    await assertSameTime('unknown vs locked', async () => {
      const unknown: number[] = [];
      const locked: number[] = [];
      round++;
      for (let i = 0; i < 20; i++) {
        unknown.push(await timed(form, `nobody-${round}-${i}@locking.test`, locking.password));
        locked.push(await timed(form, locking.email, locking.password));
      }
      return [unknown, locked];
    });
  });
});
