/** The accounts domain's expiring rows, swept by runtime/expiry-sweeper.ts. */
export const ACCOUNTS_EXPIRING = [
  // Console sessions (console-session-store.ts) expire with no grace.
  { table: 'console_sessions', expired: 'expires_at < now()' },
  // Used platform hand-off nonces (handoff-nonce-store.ts): needed only while the hand-off could still be redeemed.
  { table: 'console_handoff_nonces', expired: 'expires_at < now()' },
  // Sign-in failure counts (lockout.ts): a day without failures forgets an account's history.
  { table: 'login_lockouts', expired: `updated_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())` },
] as const;
