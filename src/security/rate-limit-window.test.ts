import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { consumeWindow, type WindowState } from './rate-limit-window.ts';

const MINUTE = 60_000;

/** Runs requests at the given times through one counter; returns each outcome. */
function run(times: number[], limit: number, windowMs = MINUTE) {
  let state: WindowState | undefined;
  return times.map((t) => {
    const r = consumeWindow(state, t, windowMs, limit);
    state = r.state;
    return r.outcome;
  });
}

describe('sliding window counter', () => {
  it('allows `limit` requests in a fresh window, then refuses with the time to wait', () => {
    const start = 100 * MINUTE; // the start of a window
    const outcomes = run([start, start + 1000, start + 2000, start + 3000], 3);
    assert.deepEqual(outcomes.map((o) => o.allowed), [true, true, true, false]);
    assert.deepEqual(outcomes.map((o) => o.remaining), [2, 1, 0, 0]);
    const refused = outcomes[3]!;
    // With limit 3, this window's 3 must slide out of the next window far enough that
    // 3 × (1 − f) + 1 ≤ 3, i.e. f ≥ 1/3: 57 s left here plus 20 s into the next window.
    assert.equal(refused.retryAfterSeconds, 77);
  });

  it('does not reset at the window boundary (no double burst)', () => {
    const end = 101 * MINUTE - 1000;
    const outcomes = run([end, end + 1, end + 2, 101 * MINUTE + 10, 101 * MINUTE + 20], 3);
    assert.deepEqual(outcomes.map((o) => o.allowed), [true, true, true, false, false]);
  });

  it('allows again once enough of the previous window has slid out, as Retry-After said', () => {
    const start = 200 * MINUTE;
    let state: WindowState | undefined;
    for (let i = 0; i < 10; i++) state = consumeWindow(state, start + i, MINUTE, 10).state;
    const refused = consumeWindow(state, start + 30_000, MINUTE, 10);
    assert.equal(refused.outcome.allowed, false);
    const at = start + 30_000 + refused.outcome.retryAfterSeconds * 1000;
    assert.equal(consumeWindow(state, at, MINUTE, 10).outcome.allowed, true, 'allowed at Retry-After');
    assert.equal(consumeWindow(state, at - 2000, MINUTE, 10).outcome.allowed, false, 'still refused just before');
  });

  it('refuses within the current window when the previous one still weighs', () => {
    const start = 300 * MINUTE;
    let state: WindowState | undefined;
    for (let i = 0; i < 10; i++) state = consumeWindow(state, start - MINUTE + i, MINUTE, 10).state; // previous window full
    const r = consumeWindow(state, start + 6_000, MINUTE, 10); // 10 × 0.9 = 9 used: one more fits
    assert.equal(r.outcome.allowed, true);
    const refused = consumeWindow(r.state, start + 6_001, MINUTE, 10);
    assert.equal(refused.outcome.allowed, false);
    // Needs 10 × (1 − f) + 1 + 1 ≤ 10, f ≥ 0.2: 12 s into the window, ~6 s from now.
    assert.equal(refused.outcome.retryAfterSeconds, 6);
    assert.deepEqual(refused.state, r.state, 'a refused request is not counted');
  });

  it('forgets everything after two windows', () => {
    const outcomes = run([0, 1, 2, 2 * MINUTE + 5], 3);
    assert.equal(outcomes[3]!.allowed, true);
    assert.equal(outcomes[3]!.remaining, 2);
  });

  it('a limit of one waits for the count to slide out entirely', () => {
    const [first, second] = run([400 * MINUTE + 30_000, 400 * MINUTE + 31_000], 1);
    assert.equal(first!.allowed, true);
    assert.equal(second!.allowed, false);
    assert.equal(second!.retryAfterSeconds, 29 + 60);
  });
});
