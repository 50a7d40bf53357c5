-- Custom domains are trusted only with proof (src/tenancy/domain-verification.ts). A domain
-- is added `pending` with a challenge token (a DNS TXT record or an HTTP token); it routes
-- and can be the issuer once `verified`. A verified domain whose re-checks keep failing
-- becomes `unverified`: still served (no silent outage), but reported.
--
-- Domains that exist before this migration were accepted under the old rules and are in use
-- as issuers: they are grandfathered as verified (verified_at = created_at), each with a
-- token so the periodic re-check can ask for proof from now on.
ALTER TABLE tenant_domains
  ADD COLUMN status text NOT NULL DEFAULT 'verified' CHECK (status IN ('pending', 'verified', 'unverified')),
  ADD COLUMN challenge_token text,
  ADD COLUMN primary_on_verify boolean NOT NULL DEFAULT false,
  ADD COLUMN verified_at timestamptz,
  ADD COLUMN checked_at timestamptz,
  ADD COLUMN check_failures integer NOT NULL DEFAULT 0;
UPDATE tenant_domains SET verified_at = created_at, challenge_token = encode(sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')), 'hex');
ALTER TABLE tenant_domains ALTER COLUMN status SET DEFAULT 'pending', ALTER COLUMN challenge_token SET NOT NULL;
-- Only a proven claim is exclusive: a pending claim must not block the real owner (squatting).
DROP INDEX tenant_domains_domain;
CREATE UNIQUE INDEX tenant_domains_domain ON tenant_domains (domain) WHERE status <> 'pending';
CREATE INDEX tenant_domains_domain_lookup ON tenant_domains (domain);
-- The re-check finds domains due by age across tenants.
CREATE INDEX tenant_domains_checked_all ON tenant_domains (checked_at) WHERE status <> 'pending';
