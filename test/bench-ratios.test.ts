/**
 * The bench's headline numbers are the median and spread of per-round ratios (bench/pairs.ts).
 * These are the few lines every figure goes through, so they are pinned here: a median that
 * quietly became a maximum, or a spread that hid rounds, would make every figure flatter.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatSpread, median, quantile, spreadOf } from '../bench/pairs.ts';

describe('bench ratios', () => {
  it('takes the median of the rounds, not the best one, and keeps min and max', () => {
    const s = spreadOf([0.5, 2.0, 0.6]);
    assert.equal(s.median, 0.6);
    assert.equal(s.min, 0.5);
    assert.equal(s.max, 2.0);
    assert.equal(s.n, 3);
    assert.equal(s.iqr, undefined, 'no interquartile range from 3 rounds');
    assert.equal(median([1, 2, 3, 4]), 2.5);
  });

  it('gives the interquartile range from 4 rounds on', () => {
    const s = spreadOf([1, 2, 3, 4, 5]);
    assert.deepEqual(s.iqr, [2, 4]);
    assert.equal(quantile([10, 20], 0.25), 12.5);
  });

  it('leaves out a round without a ratio and says so', () => {
    const s = spreadOf([Number.NaN, 0.2, 0.4]);
    assert.equal(s.n, 2);
    assert.equal(s.dropped, 1);
    assert.ok(Math.abs(s.median - 0.3) < 1e-12);
    assert.match(formatSpread(s), /^0\.30 \(min–max 0\.20–0\.40, n=2; 1 round\(s\) without a ratio left out\)$/);
  });

  it('prints median, min–max and IQR', () => {
    assert.equal(formatSpread(spreadOf([0.55, 0.6, 0.63, 0.66, 0.71])), '0.63 (min–max 0.55–0.71, IQR 0.60–0.66, n=5)');
  });
});
