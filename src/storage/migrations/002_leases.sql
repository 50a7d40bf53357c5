-- Leases: which instance runs a background job (key rotation and retirement) right now.
-- Platform-only, not tenant-owned: no tenant_id, no row-level security, and no grant to
-- atrium_app, so tenant-scoped code cannot read or take a lease; only the audited
-- cross-tenant path (atrium_platform) can.
CREATE TABLE leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

GRANT SELECT, INSERT, UPDATE, DELETE ON leases TO atrium_platform;
