-- Operator policy above the tenants (issue 13, item 4): the platform's floors, ceilings and
-- defaults of per-tenant settings, one row per section (config/platform-policy.ts). Only
-- what the operator set is stored; the rest are the built-in values. `version` grows with
-- every change, so an instance can tell that its copy is old. Platform-only, like leases:
-- no tenant_id, row-level security forced behind the platform context, no grant to atrium_app.
CREATE TABLE platform_config (
  section     text PRIMARY KEY,
  settings    jsonb NOT NULL DEFAULT '{}'::jsonb,
  version     integer NOT NULL DEFAULT 1,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  updated_by  text
);

ALTER TABLE platform_config ENABLE ROW LEVEL SECURITY;
ALTER TABLE platform_config FORCE ROW LEVEL SECURITY;
CREATE POLICY platform_all ON platform_config TO atrium_platform USING ((SELECT atrium_platform_context())) WITH CHECK ((SELECT atrium_platform_context()));
GRANT SELECT, INSERT, UPDATE ON platform_config TO atrium_platform;
