-- Sign-out that reaches the upstream (issue 14): what Atrium keeps of an upstream sign-in
-- for as long as the session it made, and the logout tokens an upstream already sent.

-- One upstream sign-in, recorded at the federation callback under the interaction it
-- completed (`interaction_uid`), and bound to the oidc-provider session (`session_uid`) once
-- the authorization finishes. The upstream's ID token is sealed (SecretBox, context
-- `federated-session:<tenant>:<interaction uid>`): it is the `id_token_hint` of the
-- sign-out, and a bearer credential at the upstream. `upstream_sid`/`upstream_sub` find the
-- sessions a back-channel logout token names. Gone with the session (expires_at).
CREATE TABLE federated_sessions (
  tenant_id        uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  interaction_uid  text NOT NULL,
  session_uid      text,
  user_id          uuid NOT NULL,
  connection_name  text NOT NULL,
  upstream_issuer  text NOT NULL,
  upstream_sub     text NOT NULL,
  upstream_sid     text,
  id_token_enc     text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, interaction_uid),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX federated_sessions_session ON federated_sessions (tenant_id, session_uid);
CREATE INDEX federated_sessions_upstream ON federated_sessions (tenant_id, connection_name, upstream_sub);
CREATE INDEX federated_sessions_expiry ON federated_sessions (tenant_id, expires_at);

-- The `jti` of every logout token a connection's upstream sent, until the token could no
-- longer be accepted anyway: a replayed token is refused.
CREATE TABLE federation_logout_tokens (
  tenant_id        uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  connection_name  text NOT NULL,
  jti              text NOT NULL,
  expires_at       timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, connection_name, jti)
);
CREATE INDEX federation_logout_tokens_expiry ON federation_logout_tokens (tenant_id, expires_at);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['federated_sessions', 'federation_logout_tokens'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant())', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON federated_sessions, federation_logout_tokens TO atrium_app, atrium_platform;
