-- Issue 13, item 5: custom roles and per-tenant quotas.
--
-- tenant_roles: the roles a tenant defines beyond the built-in owner, admin and member
-- (tenancy/role-store.ts). A user's roles stay the text[] on users; a custom role grants no
-- console privilege, it travels to relying parties in the opt-in `roles` claim. Names are
-- unique per tenant whatever their case.
CREATE TABLE tenant_roles (
  tenant_id    uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  name         text NOT NULL CHECK (name ~ '^[a-z0-9_-]{1,64}$'),
  description  text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

-- tenant_quotas: limits the platform sets on a tenant (tenancy/quota-store.ts). NULL is
-- unlimited; no row is unlimited in every respect. The tenant role may read its own row (every
-- door that creates a user, client, domain or connection checks it in the tenant's
-- transaction) but never write it: only the platform path sets quotas.
CREATE TABLE tenant_quotas (
  tenant_id                uuid PRIMARY KEY REFERENCES tenants ON DELETE CASCADE,
  users                    integer CHECK (users >= 0),
  clients                  integer CHECK (clients >= 0),
  custom_domains           integer CHECK (custom_domains >= 0),
  federation_connections   integer CHECK (federation_connections >= 0),
  management_rpm           integer CHECK (management_rpm >= 0),
  updated_at               timestamptz NOT NULL DEFAULT now()
);

DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['tenant_roles', 'tenant_quotas'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I TO atrium_app USING (tenant_id = (SELECT atrium_current_tenant())) WITH CHECK (tenant_id = (SELECT atrium_current_tenant()))', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING ((SELECT atrium_platform_context())) WITH CHECK ((SELECT atrium_platform_context()))', t);
  END LOOP;
END $$;

GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_roles TO atrium_app, atrium_platform;
GRANT SELECT ON tenant_quotas TO atrium_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_quotas TO atrium_platform;
