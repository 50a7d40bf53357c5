-- Keyset paging of the users and clients lists (storage/keyset.ts): each list is read in
-- (created_at, key) order within its tenant, and a page starts at a position in that order.
-- Without these indexes the last page of 10,000 users sorted them all first.
CREATE INDEX users_created ON users (tenant_id, created_at, id);
CREATE INDEX oidc_clients_created ON oidc_clients (tenant_id, created_at, client_id);
