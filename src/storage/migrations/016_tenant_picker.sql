-- Issue 14, item 5: the public tenant picker lists only tenants that opted in
-- (features.tenant_picker) and are active. A partial index of exactly those, in slug order:
-- a page of the listing is one range scan from its cursor, and home-realm discovery starts
-- from these tenants alone (federation/tenant-picker.ts), never touching an unlisted one.
-- The predicate must stay word for word the one the queries use.
CREATE INDEX tenants_picker ON tenants (slug)
  WHERE status = 'active' AND (config #>> '{features,tenant_picker}') = 'true';
