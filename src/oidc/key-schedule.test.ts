import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { keyDeadlines, keyRotationDays, retiredKeyRetentionSeconds, RETIRED_KEY_MARGIN_SECONDS } from './key-schedule.ts';

const tenant = (oidc: Record<string, unknown> = {}) => ({ config: { oidc } });

describe('key schedule', () => {
  it('rotates every 90 days unless the tenant says otherwise, within 1..365', () => {
    assert.equal(keyRotationDays({ config: {} }), 90);
    assert.equal(keyRotationDays(tenant({ key_rotation_days: 7 })), 7);
    assert.equal(keyRotationDays(tenant({ key_rotation_days: 1 })), 1);
    assert.equal(keyRotationDays(tenant({ key_rotation_days: 1000 })), 365);
    // A number below the floor is raised to it (the platform floor applies to every stored value);
    // anything that is not a whole number falls back to the default.
    for (const low of [0, -3]) assert.equal(keyRotationDays(tenant({ key_rotation_days: low })), 1, String(low));
    for (const bad of [2.5, '30', null, true]) assert.equal(keyRotationDays(tenant({ key_rotation_days: bad })), 90, String(bad));
  });

  it('keeps retired keys for the longer of the access and ID token lifetimes, plus the margin', () => {
    assert.equal(retiredKeyRetentionSeconds({ config: {} }), 3600 + RETIRED_KEY_MARGIN_SECONDS);
    assert.equal(retiredKeyRetentionSeconds(tenant({ access_token_ttl: 600, id_token_ttl: 1200 })), 1200 + RETIRED_KEY_MARGIN_SECONDS);
    assert.equal(retiredKeyRetentionSeconds(tenant({ access_token_ttl: 7200, id_token_ttl: 300 })), 7200 + RETIRED_KEY_MARGIN_SECONDS);
    assert.equal(retiredKeyRetentionSeconds(tenant({ access_token_ttl: 10 * 86_400 })), 86_400 + RETIRED_KEY_MARGIN_SECONDS, 'bounded by the TTL ceiling');
  });

  it('dates a current key by its activation and a retired key by its retirement; a next key has neither', () => {
    const at = new Date('2030-01-01T00:00:00Z');
    const current = keyDeadlines({ status: 'current', createdAt: at, activatedAt: at, retiredAt: null }, tenant({ key_rotation_days: 2 }));
    assert.deepEqual(current, { rotatesAt: new Date('2030-01-03T00:00:00Z'), expiresAt: null });
    const retired = keyDeadlines({ status: 'retired', createdAt: at, activatedAt: at, retiredAt: at }, tenant({ access_token_ttl: 600 }));
    assert.deepEqual(retired, { rotatesAt: null, expiresAt: new Date(at.getTime() + (3600 + RETIRED_KEY_MARGIN_SECONDS) * 1000) });
    assert.deepEqual(keyDeadlines({ status: 'next', createdAt: at, activatedAt: null, retiredAt: null }, tenant()), { rotatesAt: null, expiresAt: null });
  });
});
