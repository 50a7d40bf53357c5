-- Issue 14, item 4: when a tenant's public origin changes (a custom domain added or made
-- primary), sign-ins already sent to an upstream under the old federation redirect URI may
-- still come back to it for OIDC_REDIRECT_GRACE_PERIOD_SECONDS. The old origin is the
-- previous primary domain (NULL: the slug subdomain) and the time it stopped being primary.
ALTER TABLE tenants ADD COLUMN previous_primary_domain text;
ALTER TABLE tenants ADD COLUMN primary_changed_at timestamptz;
