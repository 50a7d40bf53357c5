-- Roles that own nothing, so row-level security always applies to them.
--   atrium_app:      one tenant at a time, chosen by app.tenant_id
--   atrium_platform: the audited cross-tenant path
DO $$
BEGIN
  CREATE ROLE atrium_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
  CREATE ROLE atrium_platform NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
  EXECUTE format('GRANT atrium_app, atrium_platform TO %I', current_user);
EXCEPTION WHEN others THEN NULL; -- superusers need no grant; a lacking privilege shows at the first SET ROLE
END $$;

CREATE FUNCTION atrium_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE
  AS $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$;

CREATE TABLE tenants (
  id          uuid PRIMARY KEY,
  slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9_][a-z0-9_-]{0,62}$'),
  name        text NOT NULL,
  status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  config      jsonb NOT NULL DEFAULT '{}',
  version     integer NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A deleted tenant's slug is kept here so it is never reused silently.
CREATE TABLE retired_slugs (
  slug        text PRIMARY KEY,
  tenant_id   uuid NOT NULL,
  retired_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_domains (
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  domain      text NOT NULL,
  is_primary  boolean NOT NULL DEFAULT false,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, domain)
);
CREATE UNIQUE INDEX tenant_domains_domain ON tenant_domains (domain);

CREATE TABLE signing_keys (
  tenant_id        uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  kid              text NOT NULL,
  alg              text NOT NULL,
  status           text NOT NULL CHECK (status IN ('next', 'current', 'retired')),
  public_jwk       jsonb NOT NULL,
  private_jwk_enc  text NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  activated_at     timestamptz,
  retired_at       timestamptz,
  PRIMARY KEY (tenant_id, kid)
);

CREATE TABLE oidc_clients (
  tenant_id   uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  client_id   text NOT NULL,
  metadata    jsonb NOT NULL,
  secret_enc  text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, client_id)
);

CREATE TABLE users (
  tenant_id       uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  id              uuid NOT NULL,
  email           text NOT NULL,
  email_verified  boolean NOT NULL DEFAULT false,
  password_hash   text,
  name            text,
  roles           text[] NOT NULL DEFAULT '{}',
  status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  last_login_at   timestamptz,
  PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX users_email ON users (tenant_id, lower(email));

-- Everything oidc-provider persists: sessions, interactions, codes, tokens, grants.
CREATE TABLE oidc_payloads (
  tenant_id    uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  model        text NOT NULL,
  id           text NOT NULL,
  payload      jsonb NOT NULL,
  grant_id     text,
  uid          text,
  user_code    text,
  expires_at   timestamptz,
  consumed_at  timestamptz,
  PRIMARY KEY (tenant_id, model, id)
);
CREATE INDEX oidc_payloads_grant ON oidc_payloads (tenant_id, grant_id) WHERE grant_id IS NOT NULL;
CREATE INDEX oidc_payloads_uid ON oidc_payloads (tenant_id, uid) WHERE uid IS NOT NULL;
CREATE INDEX oidc_payloads_user_code ON oidc_payloads (tenant_id, user_code) WHERE user_code IS NOT NULL;
CREATE INDEX oidc_payloads_expiry ON oidc_payloads (expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE audit_events (
  tenant_id       uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  id              uuid NOT NULL,
  at              timestamptz NOT NULL DEFAULT now(),
  actor           text,
  action          text NOT NULL,
  target          text,
  outcome         text NOT NULL DEFAULT 'success',
  ip              text,
  user_agent      text,
  correlation_id  text,
  details         jsonb NOT NULL DEFAULT '{}',
  PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at DESC);

-- Row-level security: enabled and forced on every tenant-owned table.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_self ON tenants TO atrium_app USING (id = atrium_current_tenant()) WITH CHECK (id = atrium_current_tenant());
CREATE POLICY platform_all ON tenants TO atrium_platform USING (true) WITH CHECK (true);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_domains', 'signing_keys', 'oidc_clients', 'users', 'oidc_payloads', 'audit_events'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant())', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;

GRANT USAGE ON SCHEMA public TO atrium_app, atrium_platform;
GRANT SELECT, UPDATE ON tenants TO atrium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_domains, signing_keys, oidc_clients, users, oidc_payloads, audit_events TO atrium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenants, retired_slugs, tenant_domains, signing_keys, oidc_clients, users, oidc_payloads, audit_events TO atrium_platform;
GRANT EXECUTE ON FUNCTION atrium_current_tenant() TO atrium_app, atrium_platform;
