-- The payload sweeper (src/oidc/payload-sweeper.ts) deletes expired rows across every
-- tenant; the per-tenant indexes (tenant_id first) cannot serve that search. As
-- oidc_payloads_expiry does for oidc-provider's rows, these let it find them by age alone.
CREATE INDEX console_sessions_expiry_all ON console_sessions (expires_at);
CREATE INDEX federation_login_states_expiry_all ON federation_login_states (expires_at);
CREATE INDEX account_tokens_expiry_all ON account_tokens (expires_at);
CREATE INDEX user_sessions_last_seen_all ON user_sessions (last_seen_at);
CREATE INDEX login_lockouts_age_all ON login_lockouts (updated_at);
