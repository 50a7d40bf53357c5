-- The devices (browser and operating system, as a hash) each user has signed in from, so
-- a sign-in from a new one can be announced by mail. Only a hash: no user agents kept here.
CREATE TABLE known_devices (
  tenant_id     uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  user_id       uuid NOT NULL,
  device_hash   text NOT NULL,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id, device_hash),
  FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

ALTER TABLE known_devices ENABLE ROW LEVEL SECURITY;
ALTER TABLE known_devices FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON known_devices TO atrium_app USING (tenant_id = atrium_current_tenant()) WITH CHECK (tenant_id = atrium_current_tenant());
CREATE POLICY platform_all ON known_devices TO atrium_platform USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE, DELETE ON known_devices TO atrium_app, atrium_platform;
