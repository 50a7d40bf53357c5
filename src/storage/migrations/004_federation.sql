-- Bring your own IdP: a tenant's upstream OpenID Connect connections, the upstream
-- identities linked to its users, and the pending sign-ins waiting for an upstream callback.

-- One row per upstream connection, named by the tenant. `settings` holds the validated,
-- preset-expanded connection (endpoints, scopes, domains, claims mapping, flags); the client
-- secret is sealed with the SecretBox under `federation:<tenant id>:<name>` and never leaves
-- the service.
CREATE TABLE federation_connections (
  tenant_id          uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  name               text NOT NULL CHECK (name ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
  provider           text NOT NULL,
  enabled            boolean NOT NULL DEFAULT true,
  settings           jsonb NOT NULL,
  client_secret_enc  text,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

-- An upstream account (issuer + subject) linked to one user of the tenant. The upstream's
-- `iss` + `sub` is the identity; the connection name is recorded for the audit trail and
-- for deleting a connection's links.
CREATE TABLE federated_identities (
  tenant_id        uuid NOT NULL,
  issuer           text NOT NULL,
  subject          text NOT NULL,
  connection_name  text NOT NULL,
  user_id          uuid NOT NULL,
  email            text,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_login_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, issuer, subject),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX federated_identities_user ON federated_identities (tenant_id, user_id);

-- A sign-in sent to an upstream and not yet back. Deleted when the callback consumes it, so
-- a replayed callback finds nothing; `expires_at` is OIDC_STATE_TTL_SECONDS after the start.
-- The PKCE verifier is sealed; `browser_hash` is the SHA-256 of the browser cookie's secret.
CREATE TABLE federation_login_states (
  tenant_id          uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  state_id           text NOT NULL,
  connection_name    text NOT NULL,
  interaction_uid    text NOT NULL,
  nonce              text NOT NULL,
  code_verifier_enc  text NOT NULL,
  redirect_uri       text NOT NULL,
  browser_hash       text NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  expires_at         timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, state_id)
);
CREATE INDEX federation_login_states_expiry ON federation_login_states (tenant_id, expires_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['federation_connections', 'federated_identities', 'federation_login_states'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant())', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON federation_connections, federated_identities, federation_login_states TO atrium_app, atrium_platform;
