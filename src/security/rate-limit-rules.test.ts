import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_WINDOW_SECONDS, RATE_LIMIT_CEILINGS, RATE_LIMIT_DEFAULTS, rateLimitRules, rateLimitViolations } from './rate-limit-rules.ts';

const withLimits = (rate_limits: unknown) => ({ config: { security: { rate_limits } } });

describe('rateLimitRules', () => {
  it('uses the defaults for a tenant without overrides', () => {
    const rules = rateLimitRules({ config: {} });
    assert.deepEqual(rules.login_per_ip, { name: 'login_per_ip', limit: 20, windowSeconds: 60 });
    assert.deepEqual(rules.login_per_account, { name: 'login_per_account', limit: 10, windowSeconds: 900 });
    assert.deepEqual(rules.token_per_client, { name: 'token_per_client', limit: 600, windowSeconds: 60 });
    assert.deepEqual(rules.token_per_ip, { name: 'token_per_ip', limit: 1200, windowSeconds: 60 });
  });

  it('takes a tenant value within the ceilings as it is, field by field', () => {
    const rules = rateLimitRules(withLimits({ login_per_ip: { limit: 3, window_seconds: 3600 }, token_per_client: { limit: 50 } }));
    assert.deepEqual(rules.login_per_ip, { name: 'login_per_ip', limit: 3, windowSeconds: 3600 });
    assert.deepEqual(rules.token_per_client, { name: 'token_per_client', limit: 50, windowSeconds: 60 });
    assert.deepEqual(rules.login_per_account, { name: 'login_per_account', limit: 10, windowSeconds: 900 });
  });

  it('clamps the burst to the ceiling', () => {
    const rules = rateLimitRules(withLimits({ login_per_ip: { limit: 1_000_000, window_seconds: 3600 } }));
    assert.equal(rules.login_per_ip.limit, RATE_LIMIT_CEILINGS.login_per_ip.limit);
    assert.equal(rules.login_per_ip.windowSeconds, 3600);
  });

  it('clamps the rate to the ceiling when the window is shortened', () => {
    // Ceiling 600/60 s is 10 per second: a 2-second window allows 20.
    const rules = rateLimitRules(withLimits({ login_per_ip: { limit: 500, window_seconds: 2 } }));
    assert.deepEqual(rules.login_per_ip, { name: 'login_per_ip', limit: 20, windowSeconds: 2 });
    // Never below one request per window.
    assert.equal(rateLimitRules(withLimits({ login_per_account: { limit: 5, window_seconds: 1 } })).login_per_account.limit, 1);
  });

  it('bounds the window to a day', () => {
    assert.equal(rateLimitRules(withLimits({ token_per_ip: { limit: 10, window_seconds: 10 * MAX_WINDOW_SECONDS } })).token_per_ip.windowSeconds, MAX_WINDOW_SECONDS);
  });

  it('ignores malformed values', () => {
    for (const bad of [null, 'fast', 7, [], { limit: -1, window_seconds: 0 }, { limit: 1.5, window_seconds: '60' }]) {
      const rules = rateLimitRules(withLimits({ login_per_ip: bad }));
      assert.deepEqual(rules.login_per_ip, { name: 'login_per_ip', limit: RATE_LIMIT_DEFAULTS.login_per_ip.limit, windowSeconds: RATE_LIMIT_DEFAULTS.login_per_ip.window_seconds });
    }
    assert.deepEqual(rateLimitRules({ config: { security: 'strict' } }).token_per_ip.limit, 1200);
    assert.deepEqual(rateLimitRules(withLimits('none')).token_per_ip.limit, 1200);
  });

  it('keeps every default within its ceiling', () => {
    for (const [name, d] of Object.entries(RATE_LIMIT_DEFAULTS)) {
      const c = RATE_LIMIT_CEILINGS[name as keyof typeof RATE_LIMIT_CEILINGS];
      assert.ok(d.limit <= c.limit && d.limit / d.window_seconds <= c.limit / c.window_seconds, name);
    }
  });
});

describe('rateLimitViolations', () => {
  it('accepts values within the bounds, and no value', () => {
    assert.deepEqual(rateLimitViolations(undefined), []);
    assert.deepEqual(rateLimitViolations({ login_per_ip: { limit: 5, window_seconds: 60 }, token_per_ip: { limit: 60_000, window_seconds: 60 } }), []);
  });

  it('names the field and the bound it breaks', () => {
    assert.deepEqual(rateLimitViolations({ login_per_ip: { limit: 500, window_seconds: 2 } }), [
      'security.rate_limits.login_per_ip.limit: must be at most 20 for a 2-second window (platform ceiling 600 per 60 s)',
    ]);
    assert.deepEqual(rateLimitViolations({ login_per_account: { limit: 0, window_seconds: 999_999 } }), [
      'security.rate_limits.login_per_account.limit: must be a positive whole number',
      `security.rate_limits.login_per_account.window_seconds: must be at most ${MAX_WINDOW_SECONDS}`,
    ]);
    assert.match(rateLimitViolations({ signup_per_ip: { limit: 1, window_seconds: 1 } })[0]!, /^security\.rate_limits\.signup_per_ip: unknown limit/);
    assert.deepEqual(rateLimitViolations([]), ['security.rate_limits: must be an object']);
  });
});
