-- Account security: single-use email tokens (signup verification, password reset,
-- invitations) and per-account sign-in lockout.

-- A link sent by email. Only the SHA-256 of the token is stored, so a database read yields
-- no usable link; the row belongs to one tenant, so a link of tenant A finds nothing on
-- tenant B. `used_at` makes it single-use (one conditional UPDATE), `expires_at` short-lived.
-- A signup waiting for its email to be verified has no user yet: `email` and `data` (name,
-- password hash, the sign-in it came from) hold what the account will be created with.
CREATE TABLE account_tokens (
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  token_hash  text NOT NULL,
  purpose     text NOT NULL CHECK (purpose IN ('signup', 'password_reset', 'invitation')),
  user_id     uuid,
  email       text NOT NULL,
  data        jsonb NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz,
  PRIMARY KEY (tenant_id, token_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX account_tokens_user ON account_tokens (tenant_id, user_id) WHERE user_id IS NOT NULL;
CREATE INDEX account_tokens_expiry ON account_tokens (tenant_id, expires_at);

-- Failed sign-ins per account since its last success. The account is named by an HMAC of
-- its lowercased email under a per-tenant key, not by user id: unknown emails are counted
-- exactly like known ones (the same work, so the same time: no enumeration by timing), and
-- the table holds nothing a guessed email could be checked against without the key.
-- `lockouts` counts the locks already served, so each new lock lasts twice as long.
CREATE TABLE login_lockouts (
  tenant_id        uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  subject          text NOT NULL,
  failed_attempts  integer NOT NULL DEFAULT 0,
  lockouts         integer NOT NULL DEFAULT 0,
  locked_until     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, subject)
);
CREATE INDEX login_lockouts_age ON login_lockouts (tenant_id, updated_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['account_tokens', 'login_lockouts'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant())', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
GRANT SELECT, INSERT, UPDATE, DELETE ON account_tokens, login_lockouts TO atrium_app, atrium_platform;
