-- Second factors (issue 5) and the device/IP/last-seen of users' sign-in sessions (issue 7).

-- One TOTP authenticator per user. The secret is sealed (AES-GCM, tenant + user bound as
-- additional data). `confirmed_at` is null while enrolment waits for a first valid code;
-- `last_step` is the last 30-second step accepted, so a code is never accepted twice.
CREATE TABLE mfa_totp (
  tenant_id      uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  user_id        uuid NOT NULL,
  secret_sealed  text NOT NULL,
  confirmed_at   timestamptz,
  last_step      bigint NOT NULL DEFAULT 0,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- Single-use recovery codes, stored as HMACs under a key derived from the master key.
CREATE TABLE mfa_recovery_codes (
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  user_id     uuid NOT NULL,
  code_hash   text NOT NULL,
  used_at     timestamptz,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, code_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- WebAuthn credentials (passkeys and security keys). credential_id is base64url.
CREATE TABLE webauthn_credentials (
  tenant_id      uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  credential_id  text NOT NULL,
  user_id        uuid NOT NULL,
  public_key     text NOT NULL,
  counter        bigint NOT NULL DEFAULT 0,
  transports     text[] NOT NULL DEFAULT '{}',
  name           text NOT NULL,
  device_type    text,
  backed_up      boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz,
  PRIMARY KEY (tenant_id, credential_id),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (tenant_id, user_id);

-- What the user's sign-in sessions (oidc-provider's Session payloads, by uid) were seen
-- from. Written at sign-in and on every later authorization through that session.
CREATE TABLE user_sessions (
  tenant_id     uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  session_uid   text NOT NULL,
  user_id       uuid NOT NULL,
  ip            text,
  user_agent    text,
  amr           text[] NOT NULL DEFAULT '{}',
  created_at    timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_uid)
);
CREATE INDEX user_sessions_user ON user_sessions (tenant_id, user_id);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['mfa_totp', 'mfa_recovery_codes', 'webauthn_credentials', 'user_sessions'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant())', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON mfa_totp, mfa_recovery_codes, webauthn_credentials, user_sessions TO atrium_app, atrium_platform;
