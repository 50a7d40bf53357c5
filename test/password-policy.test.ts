/**
 * Password policy per tenant, two tenants side by side: "fortress" asks for 14 characters
 * with an uppercase letter, a digit and a symbol; "plain" keeps the defaults (8, no
 * classes). Both refuse the most common passwords and the email itself, through the API
 * and on the pages. A hash made with older argon2 parameters is upgraded at sign-in.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import argon2 from 'argon2';
import { startTestAtrium, type TestAtrium } from './support/atrium.ts';
import { createTenantFixture, type TenantFixture } from './support/fixtures.ts';
import { openLoginForm } from './support/rate-limit-helpers.ts';
import { asTenant, setSecurity } from './support/account-security.ts';
import { isCommonPassword, passwordViolations, PASSWORD_MIN_LENGTH_FLOOR } from '../src/accounts/password-policy.ts';

let t: TestAtrium;
let fortress: TenantFixture;
let plain: TenantFixture;

before(async () => {
  t = await startTestAtrium();
  [fortress, plain] = await Promise.all([createTenantFixture(t, 'fortress'), createTenantFixture(t, 'plain')]);
  await setSecurity(t, 'fortress', { password_policy: { min_length: 14, require_uppercase: true, require_digit: true, require_symbol: true } });
});
after(() => t?.stop());

const createUser = (slug: string, email: string, password: string) => t.api('POST', `/tenants/${slug}/users`, { email, password });

describe('password policy', () => {
  it('the same passwords meet one tenant\'s policy and not the other\'s', async () => {
    const cases: [string, RegExp][] = [
      ['short pw 1A!', /at least 14 characters/],
      ['long enough but plain', /uppercase letter; password: must contain a digit/],
      ['Long Enough With Upper!', /must contain a digit/],
      ['LongEnough42Upper', /must contain a symbol/],
    ];
    for (const [i, [password, message]] of cases.entries()) {
      const refused = await createUser('fortress', `p${i}@fortress.test`, password);
      assert.equal(refused.status, 400, password);
      assert.equal(refused.body.error, 'invalid_password');
      assert.match(refused.body.error_description, message);
      assert.ok(refused.body.correlation_id);
      const accepted = await createUser('plain', `p${i}@plain.test`, password);
      assert.equal(accepted.status, 201, `${password}: ${JSON.stringify(accepted.body)}`);
    }
    assert.equal((await createUser('fortress', 'ok@fortress.test', 'Correct Horse 42 Battery!')).status, 201);
  });

  it('both refuse the most common passwords and the email itself', async () => {
    for (const slug of ['fortress', 'plain']) {
      const common = await createUser(slug, `common@${slug}.test`, 'password123');
      assert.equal(common.status, 400);
      assert.match(common.body.error_description, /most common passwords/);
      const email = `Someone.Long@${slug}.test`;
      const same = await createUser(slug, email, email.toUpperCase());
      assert.equal(same.status, 400);
      assert.match(same.body.error_description, /must not be the email address/);
    }
    const local = await createUser('plain', 'someonelong@plain.test', 'SomeoneLong');
    assert.equal(local.status, 400, 'the part before @ is the email too');
  });

  it('applies to changing a password through the API', async () => {
    const res = await t.api('PATCH', `/tenants/fortress/users/${fortress.userId}`, { password: 'qwertyuiop' });
    assert.equal(res.status, 400);
    assert.match(res.body.error_description, /at least 14.*most common/);
  });

  it('a tenant cannot go below the platform floor', async () => {
    const res = await t.api('PUT', '/tenants/plain/config/security', { password_policy: { min_length: PASSWORD_MIN_LENGTH_FLOOR - 1 } });
    assert.equal(res.status, 400);
    assert.match(res.body.error_description, /min_length: at least 8/);
  });

  it('ships a list of 10,000 common passwords and reports violations as translation keys', () => {
    for (const p of ['123456', 'password', 'qwerty', 'iloveyou', 'Dragon', 'football1', 'sunshine1']) assert.ok(isCommonPassword(p), p);
    assert.ok(!isCommonPassword('correct horse battery staple 42'));
    const keys = passwordViolations({ config: { security: { password_policy: { min_length: 12, require_digit: true } } } }, 'qwerty', 'qwerty@x.test').map((v) => v.key);
    assert.deepEqual(keys, ['too_short', 'needs_digit', 'too_common', 'is_email']);
  });

  it('upgrades a hash made with older argon2 parameters at the next sign-in', async () => {
    const weak = await argon2.hash(plain.password, { type: argon2.argon2id, memoryCost: 4096, timeCost: 1, parallelism: 1 });
    const stored = () => asTenant(t, 'plain', async (q) => (await q.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [plain.userId])).rows[0]!.password_hash);
    await asTenant(t, 'plain', (q) => q.query('UPDATE users SET password_hash = $2 WHERE id = $1', [plain.userId, weak]));
    assert.match(await stored(), /m=4096,/);
    const form = await openLoginForm(plain);
    const res = await form.submit(plain.email, plain.password);
    assert.equal(res.status, 303);
    const upgraded = await stored();
    assert.match(upgraded, /^\$argon2id\$v=19\$m=19456,/);
    assert.match(upgraded, /[$,]t=2[$,]/);
    assert.ok(await argon2.verify(upgraded, plain.password));
  });
});
