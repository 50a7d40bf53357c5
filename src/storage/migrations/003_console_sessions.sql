-- Sessions of Atrium's own pages on a tenant's host (/account, /admin, /platform).
-- Sign-in itself goes through the tenant's Provider (password, MFA, federation); this
-- row is what the pages' cookie points at, stored by hash so a database read yields no
-- usable cookie. A platform admin opening a tenant's /admin has no user in that tenant:
-- the row names the platform admin instead.
CREATE TABLE console_sessions (
  tenant_id             uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  id_hash               text NOT NULL,
  user_id               uuid,
  platform_admin_id     text,
  platform_admin_email  text,
  handoff_nonce         text,
  oidc_session_uid      text,
  amr                   text[] NOT NULL DEFAULT '{}',
  ip                    text,
  user_agent            text,
  created_at            timestamptz NOT NULL DEFAULT now(),
  last_seen_at          timestamptz NOT NULL DEFAULT now(),
  expires_at            timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, id_hash),
  CHECK ((user_id IS NULL) <> (platform_admin_id IS NULL))
);
CREATE INDEX console_sessions_user ON console_sessions (tenant_id, user_id) WHERE user_id IS NOT NULL;
-- A platform admin's hand-off link is single-use.
CREATE UNIQUE INDEX console_sessions_handoff ON console_sessions (tenant_id, handoff_nonce) WHERE handoff_nonce IS NOT NULL;

ALTER TABLE console_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE console_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON console_sessions TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant());
CREATE POLICY platform_all ON console_sessions TO atrium_platform USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON console_sessions TO atrium_app, atrium_platform;
