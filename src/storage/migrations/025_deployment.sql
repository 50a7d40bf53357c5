-- The deployment's id: made once, by the migration that creates this table, so every
-- instance on one database agrees on it without configuration, and two deployments (two
-- databases) never share one, even on one Redis. It names what a deployment keeps in a
-- shared Redis: the event bus channel (events/redis-bus.ts). A copy of the database that is
-- to become another deployment needs an id of its own; as the owner:
-- UPDATE deployment SET id = gen_random_uuid().
-- One row (the `singleton` key). Platform-only, like leases: no tenant_id, and no grant to
-- atrium_app; not a secret, so no row-level security (the owner reads and renews it as is).
CREATE TABLE deployment (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  id          uuid NOT NULL DEFAULT gen_random_uuid(),
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO deployment DEFAULT VALUES;

GRANT SELECT ON deployment TO atrium_platform;
