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

  it('classifies a stored value without opening it: sealed, sealed under a key it lacks, or plaintext', () => {
    const box = new SecretBox(key());
    assert.equal(box.classify(box.seal('value', 'ctx')), 'sealed');
    assert.equal(box.classify(box.seal('', 'ctx')), 'not-sealed', 'an empty ciphertext is no secret worth sealing: the format never holds one');
    assert.equal(box.classify(new SecretBox(key()).seal('value', 'ctx')), 'unknown-key');
    for (const plain of ['hunter2', '{"kty":"EC","d":"abc"}', 'JBSWY3DPEHPK3PXP', 'v1.a.b.c.d', 'v1.abcdefgh.not!base64.x.y']) assert.equal(box.classify(plain), 'not-sealed', plain);
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
