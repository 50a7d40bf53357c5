/** The oidc domain's expiring rows, swept by runtime/expiry-sweeper.ts. */

// Rows are kept a little past expiry: oidc-provider reads consumed refresh tokens and codes
// with clock tolerance to detect reuse.
const GRACE = "interval '5 minutes'";

export const OIDC_EXPIRING = [
  { table: 'oidc_payloads', expired: `expires_at < now() - ${GRACE}` },
  // Device/IP records of sign-in sessions (grant-store.ts) outlive nothing: gone with their session (swept above).
  {
    table: 'user_sessions',
    expired: `last_seen_at < now() - interval '1 hour' AND NOT EXISTS (
      SELECT 1 FROM oidc_payloads p WHERE p.tenant_id = user_sessions.tenant_id AND p.model = 'Session' AND p.uid = user_sessions.session_uid)`,
  },
] as const;
