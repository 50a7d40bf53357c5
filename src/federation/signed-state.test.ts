import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { SecretBox } from '../core/secret-box.ts';
import { mintState, verifyState } from './signed-state.ts';

const key = () => randomBytes(32).toString('base64');

describe('signed federation state', () => {
  const box = new SecretBox(key());
  const tenantId = randomUUID();

  it('verifies what it minted, naming the tenant and the pending sign-in', () => {
    const { state, stateId, expiresAt } = mintState(box, tenantId, 600);
    const verified = verifyState(box, state);
    assert.deepEqual(verified, { tenantId, stateId, expiresAt, expired: false });
    assert.ok(expiresAt.getTime() > Date.now() + 590_000);
  });

  it('flags a state past its lifetime as expired (still authentic, so the user can be told why)', () => {
    const { state } = mintState(box, tenantId, 60, Date.now() - 61_000);
    assert.equal(verifyState(box, state)?.expired, true);
  });

  it('refuses a state moved to another tenant, altered, or signed under another master key', () => {
    const { state } = mintState(box, tenantId, 600);
    assert.equal(verifyState(box, state.replace(tenantId, randomUUID())), undefined, 'another tenant');
    const [t, exp, id, mac] = state.split('.');
    assert.equal(verifyState(box, [t, Number(exp) + 3600, id, mac].join('.')), undefined, 'a longer lifetime');
    assert.equal(verifyState(box, [t, exp, id!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A')), mac].join('.')), undefined, 'another sign-in');
    assert.equal(verifyState(new SecretBox(key()), state), undefined, 'another deployment');
    for (const junk of [undefined, '', 'x', `${state}.x`, ['a'], 42]) assert.equal(verifyState(box, junk), undefined);
  });

  it('still verifies a state minted before a master key rotation', () => {
    const old = key();
    const before = new SecretBox(old);
    const { state } = mintState(before, tenantId, 600);
    assert.ok(verifyState(new SecretBox(key(), [old]), state));
  });
});
