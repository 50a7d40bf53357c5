import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from './secret-box.ts';

const key = () => randomBytes(32).toString('base64');

describe('SecretBox (AES-256-GCM at rest)', () => {
  it('round-trips and never stores the plaintext', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('s3cret-value', 'tenant-a:client');
    assert.ok(!sealed.includes('s3cret'));
    assert.match(sealed, /^v1\.[A-Za-z0-9_-]{8}\./);
    assert.equal(box.open(sealed, 'tenant-a:client'), 's3cret-value');
  });

  it('binds a value to its context: a secret sealed for one tenant does not open for another', () => {
    const box = new SecretBox(key());
    const sealed = box.seal('value', 'tenant-a');
    assert.throws(() => box.open(sealed, 'tenant-b'));
  });

  it('detects tampering', () => {
    const box = new SecretBox(key());
    const parts = box.seal('value', 'ctx').split('.');
    parts[4] = Buffer.from('other').toString('base64url');
    assert.throws(() => box.open(parts.join('.'), 'ctx'));
  });

  it('opens values sealed under a retired master key after rotation, and flags them stale', () => {
    const oldKey = key();
    const sealed = new SecretBox(oldKey).seal('value', 'ctx');
    const rotated = new SecretBox(key(), [oldKey]);
    assert.equal(rotated.open(sealed, 'ctx'), 'value');
    assert.equal(rotated.isStale(sealed), true);
    assert.equal(rotated.isStale(rotated.seal('value', 'ctx')), false);
    assert.throws(() => new SecretBox(key()).open(sealed, 'ctx'), /unknown key/);
  });

  it('derives distinct keys per purpose and context', () => {
    const box = new SecretBox(key());
    const [a] = box.deriveKeys('cookies', 'tenant-a');
    const [b] = box.deriveKeys('cookies', 'tenant-b');
    const [c] = box.deriveKeys('csrf', 'tenant-a');
    assert.notDeepEqual(a, b);
    assert.notDeepEqual(a, c);
    assert.deepEqual(box.deriveKeys('cookies', 'tenant-a')[0], a);
  });
});
