-- Used platform hand-offs (web/console-handoff.ts). The one-time nonce of a hand-off was
-- kept only on the console session it made, so signing out (which deletes that row) made
-- the nonce usable again for the rest of its minute. Used nonces are kept here, apart
-- from sessions, until the hand-off's own expiry; the sweeper removes them after that.
CREATE TABLE console_handoff_nonces (
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  nonce       text NOT NULL,
  used_at     timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, nonce)
);
CREATE INDEX console_handoff_nonces_expiry_all ON console_handoff_nonces (expires_at);

ALTER TABLE console_handoff_nonces ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_handoff_nonces FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON console_handoff_nonces TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant());
CREATE POLICY platform_all ON console_handoff_nonces TO atrium_platform USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, DELETE ON console_handoff_nonces TO atrium_app, atrium_platform;
