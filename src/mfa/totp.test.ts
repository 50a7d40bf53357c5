import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base32Decode, base32Encode, matchTotp, stepAt, totpCode } from './totp.ts';

// RFC 6238 appendix B, SHA-1 seed "12345678901234567890" (8-digit vectors, last 6 digits).
const RFC_SECRET = base32Encode(Buffer.from('12345678901234567890'));

test('codes match the RFC 6238 test vectors', () => {
  assert.equal(totpCode(RFC_SECRET, stepAt(59_000)), '287082');
  assert.equal(totpCode(RFC_SECRET, stepAt(1111111109_000)), '081804');
  assert.equal(totpCode(RFC_SECRET, stepAt(1234567890_000)), '005924');
  assert.equal(totpCode(RFC_SECRET, stepAt(2000000000_000)), '279037');
});

test('base32 round-trips', () => {
  const bytes = Buffer.from([0, 1, 2, 250, 251, 252, 253, 254, 255, 7]);
  assert.deepEqual(base32Decode(base32Encode(bytes)), bytes);
});

test('one step of skew is accepted, two are refused, a used step is refused', () => {
  const now = 1_700_000_000_000;
  const step = stepAt(now);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step), { now }), step);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step - 1), { now }), step - 1);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step + 1), { now }), step + 1);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step - 2), { now }), undefined);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step + 2), { now }), undefined);
  assert.equal(matchTotp(RFC_SECRET, totpCode(RFC_SECRET, step), { now, lastStep: step }), undefined);
  assert.equal(matchTotp(RFC_SECRET, 'abcdef', { now }), undefined);
});
