-- Binds each transaction's database context to the application (issue 18, item 6).
-- Until now any SQL could choose its tenant (`set_config('app.tenant_id', …)`) or become
-- `atrium_platform` and read every tenant. Now the tenant policies honour app.tenant_id only
-- with app.context_proof = HMAC-SHA256(key, 'tenant:' || id), and the platform policies only
-- with HMAC-SHA256(key, 'platform'). The key lives in a table only the owner reads
-- (the application loads it at start through the owner login); the functions that check
-- proofs run as the owner (SECURITY DEFINER). A login that is not the owner can therefore
-- not forge a context, whatever roles it sets. HMAC is built from sha256() with the key's
-- pads stored beside it (no pgcrypto needed, PGlite included).
CREATE TABLE atrium_context_key (
  singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  key        bytea NOT NULL,      -- 64 bytes (one SHA-256 block)
  inner_pad  bytea NOT NULL,      -- key XOR 0x36…
  outer_pad  bytea NOT NULL       -- key XOR 0x5c…
);
REVOKE ALL ON atrium_context_key FROM PUBLIC;

CREATE OR REPLACE FUNCTION atrium_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT s.id FROM (SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid AS id) s, public.atrium_context_key k
    WHERE s.id IS NOT NULL
      AND encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to('tenant:' || s.id::text, 'UTF8'))), 'hex') = current_setting('app.context_proof', true)
  $$;

CREATE FUNCTION atrium_platform_context() RETURNS boolean
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $$
    SELECT coalesce((SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to('platform', 'UTF8'))), 'hex') = current_setting('app.context_proof', true)
                     FROM public.atrium_context_key k), false)
  $$;
GRANT EXECUTE ON FUNCTION atrium_platform_context() TO atrium_app, atrium_platform;

-- Every policy checks the proof. `(SELECT f())` makes it one evaluation per statement.
DO $$
DECLARE p record;
BEGIN
  FOR p IN SELECT tablename, policyname FROM pg_policies WHERE schemaname = 'public' LOOP
    IF p.policyname = 'platform_all' THEN
      EXECUTE format('ALTER POLICY platform_all ON %I USING ((SELECT atrium_platform_context())) WITH CHECK ((SELECT atrium_platform_context()))', p.tablename);
    ELSIF p.policyname = 'tenant_self' THEN
      EXECUTE format('ALTER POLICY tenant_self ON %I USING (id = (SELECT atrium_current_tenant())) WITH CHECK (id = (SELECT atrium_current_tenant()))', p.tablename);
    ELSIF p.policyname = 'tenant_isolation' THEN
      EXECUTE format('ALTER POLICY tenant_isolation ON %I USING (tenant_id = (SELECT atrium_current_tenant())) WITH CHECK (tenant_id = (SELECT atrium_current_tenant()))', p.tablename);
    ELSE
      RAISE EXCEPTION 'policy % on % is not known to migration 012', p.policyname, p.tablename;
    END IF;
  END LOOP;
END $$;

-- The platform-only tables had no row-level security (no tenant rows); give them the same gate,
-- so that SET ROLE atrium_platform without the platform context reaches nothing at all.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['retired_slugs', 'leases'] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY platform_all ON %I TO atrium_platform USING ((SELECT atrium_platform_context())) WITH CHECK ((SELECT atrium_platform_context()))', t);
  END LOOP;
END $$;

-- /readyz reads the schema version on the runtime login, which has no other privilege of its own.
GRANT SELECT ON schema_migrations TO PUBLIC;
