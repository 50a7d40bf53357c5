-- The OpenID Connect standard claims (Core 1.0 section 5.1) a user's upstream sends and the
-- connection's claims_mapping keeps (given_name, family_name, ..., address, locale): one
-- jsonb object per user, validated claim by claim before it is written
-- (accounts/profile-claims.ts). A column of `users` rather than a table of its own: it is
-- read with the user for every ID token and userinfo answer, goes with the user in a tenant
-- bundle and is deleted with the user, and it sits under the forced row-level security of
-- `users` (migration 001) with no policy of its own to get wrong. phone_number is not here:
-- the phone columns of migration 014 are the one record of a user's number.
ALTER TABLE users ADD COLUMN profile jsonb NOT NULL DEFAULT '{}'::jsonb;
