/**
 * The counting rule shared by both limiters: a sliding window approximated from two fixed
 * windows ("sliding window counter"). A subject keeps the count of the current fixed
 * window and of the one before; a request at fraction f of the current window sees
 *
 *   used = previous × (1 − f) + current
 *
 * and is allowed when used + 1 ≤ limit. Why this and not the alternatives:
 *  - a plain fixed window lets 2 × limit through around a window boundary (limit at the
 *    end of one window, limit at the start of the next), which is exactly the burst a
 *    password guesser wants;
 *  - an exact sliding log keeps one entry per request (1,200 per IP for the token
 *    endpoint), where this keeps three small numbers per subject in one Redis hash.
 * It assumes the previous window's requests were spread evenly, so it can be off by a
 * fraction of a window's worth in either direction; for abuse limits that is fine.
 *
 * Only allowed requests are counted: a subject hammering past its limit does not push its
 * own release further away, and a rejected request costs no write. Windows are aligned to
 * the epoch, so every instance (and Redis, whose clock the Lua script uses) agrees on them.
 * The Redis script (rate-limiter-redis.ts) implements `consumeWindow` in Lua, atomically.
 */

export interface WindowState {
  /** Index of the current fixed window: floor(time / window length). */
  readonly window: number;
  readonly current: number;
  readonly previous: number;
}

export interface WindowOutcome {
  allowed: boolean;
  remaining: number;
  retryAfterSeconds: number;
}

/** Applies one request at `nowMs`; returns the new state (unchanged when rejected) and the outcome. */
export function consumeWindow(state: WindowState | undefined, nowMs: number, windowMs: number, limit: number): { state: WindowState; outcome: WindowOutcome } {
  const window = Math.floor(nowMs / windowMs);
  const elapsedMs = nowMs - window * windowMs;
  let current = 0;
  let previous = 0;
  if (state?.window === window) {
    current = state.current;
    previous = state.previous;
  } else if (state?.window === window - 1) {
    previous = state.current;
  }
  const allowed = usedAt(previous, current, elapsedMs, windowMs) + 1 <= limit;
  if (allowed) current += 1;
  return { state: { window, current, previous }, outcome: windowOutcome(allowed, current, previous, elapsedMs, windowMs, limit) };
}

function usedAt(previous: number, current: number, elapsedMs: number, windowMs: number): number {
  return (previous * (windowMs - elapsedMs)) / windowMs + current;
}

/**
 * The caller's view of a decision, from the counts after it (`current` includes the request
 * when it was allowed). Retry-After is the earliest moment the next request would pass,
 * assuming nothing else is allowed meanwhile.
 */
export function windowOutcome(allowed: boolean, current: number, previous: number, elapsedMs: number, windowMs: number, limit: number): WindowOutcome {
  const remaining = Math.max(0, Math.floor(limit - usedAt(previous, current, elapsedMs, windowMs) + 1e-9));
  if (allowed) return { allowed, remaining, retryAfterSeconds: 0 };
  let waitMs: number;
  if (current <= limit - 1 && previous > 0) {
    // Still in this window: once enough of the previous window has slid out.
    waitMs = windowMs - ((limit - 1 - current) * windowMs) / previous - elapsedMs;
  } else {
    // In the next window, this window's count becomes "previous" and must slide out in turn.
    waitMs = windowMs - elapsedMs + windowMs - ((limit - 1) * windowMs) / Math.max(current, 1);
  }
  return { allowed, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
}
