import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MemoryRateLimiter, rateLimitStorageKey } from './rate-limiter.ts';
import { basicCredentials } from '../http/rate-limit-token-endpoint.ts';
import { tooManyAttemptsMessage } from './rate-limit-login.ts';
import { translator } from '../core/i18n.ts';

const rule = { name: 'login_per_account', limit: 2, windowSeconds: 60 };
const hashKey = randomBytes(32);

describe('rate limiter keys', () => {
  it('are prefixed by the tenant, name the rule and carry no email or IP', () => {
    const key = rateLimitStorageKey({ tenantId: '5b0c1a5e-0000-4000-8000-000000000001', subject: 'alice@example.com' }, rule, hashKey);
    assert.match(key, /^atrium:\{5b0c1a5e-0000-4000-8000-000000000001\}:rl:login_per_account:[A-Za-z0-9_-]{43}$/);
    assert.doesNotMatch(key, /alice|example/);
    assert.notEqual(key, rateLimitStorageKey({ tenantId: '5b0c1a5e-0000-4000-8000-000000000001', subject: 'alice@example.com' }, rule, randomBytes(32)), 'keyed: another deployment key gives another hash');
  });
});

describe('MemoryRateLimiter', () => {
  it('counts per tenant, subject and rule, and forgets on reset', async () => {
    let now = 1_000 * 60_000;
    const limiter = new MemoryRateLimiter(hashKey, { now: () => now });
    const alice = { tenantId: 't1', subject: 'alice' };
    assert.equal((await limiter.consume(alice, rule)).allowed, true);
    assert.equal((await limiter.consume(alice, rule)).allowed, true);
    const refused = await limiter.consume(alice, rule);
    assert.deepEqual({ allowed: refused.allowed, remaining: refused.remaining }, { allowed: false, remaining: 0 });
    assert.ok(refused.retryAfterSeconds > 0);
    assert.equal((await limiter.consume({ tenantId: 't2', subject: 'alice' }, rule)).allowed, true, 'another tenant');
    assert.equal((await limiter.consume({ tenantId: 't1', subject: 'bob' }, rule)).allowed, true, 'another subject');
    assert.equal((await limiter.consume(alice, { ...rule, name: 'login_per_ip' })).allowed, true, 'another rule');
    await limiter.reset(alice, rule);
    assert.equal((await limiter.consume(alice, rule)).allowed, true, 'after reset');
    now += 3 * 60_000;
    assert.equal((await limiter.consume(alice, rule)).remaining, 1, 'after two windows');
  });

  it('stays bounded, dropping the least recently used counters', async () => {
    const limiter = new MemoryRateLimiter(hashKey, { max: 3 });
    const one = { limit: 1, name: 'x', windowSeconds: 60 };
    await limiter.consume({ tenantId: 't', subject: 'a' }, one);
    for (const s of ['b', 'c', 'd']) await limiter.consume({ tenantId: 't', subject: s }, one);
    assert.equal((await limiter.consume({ tenantId: 't', subject: 'a' }, one)).allowed, true, 'a was evicted');
    assert.equal((await limiter.consume({ tenantId: 't', subject: 'd' }, one)).allowed, false, 'd is still counted');
  });
});

describe('basicCredentials', () => {
  const basic = (s: string) => `Basic ${Buffer.from(s).toString('base64')}`;
  it('reads a form-encoded client id and secret', () => {
    assert.deepEqual(basicCredentials(basic('my%20app:s%3Acret')), { clientId: 'my app', secret: 's:cret' });
    assert.deepEqual(basicCredentials(basic('app:pa:ss')), { clientId: 'app', secret: 'pa:ss' });
    assert.deepEqual(basicCredentials(`basic   ${Buffer.from('a:b').toString('base64')}`), { clientId: 'a', secret: 'b' });
  });
  it('ignores what is not Basic credentials', () => {
    for (const h of ['', 'Bearer abc', basic('nocolon'), basic(':secret'), 'Basic !!!']) assert.equal(basicCredentials(h), undefined, h);
    assert.deepEqual(basicCredentials(basic('%E0%A4%A:x')), { clientId: '%E0%A4%A', secret: 'x' }, 'bad escapes are kept as they are');
  });
});

describe('tooManyAttemptsMessage', () => {
  it('says how long to wait in words', () => {
    const en = translator('en');
    const say = (seconds: number) => {
      const message = tooManyAttemptsMessage(seconds);
      return en(message.key, message.vars);
    };
    assert.match(say(1), /wait 1 second before/);
    assert.match(say(45), /wait 45 seconds before/);
    assert.match(say(60), /wait 1 minute before/);
    assert.match(say(61), /wait 2 minutes before/);
    const fr = tooManyAttemptsMessage(61);
    assert.match(translator('fr')(fr.key, fr.vars), /2 minutes/);
  });
});
