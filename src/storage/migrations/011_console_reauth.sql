-- When and how the user of a console session last proved who they are: the sign-in it came
-- from (the authorization code's auth_time and amr), or a re-authentication on /account.
-- Changing a credential there needs a recent one (security.reauth_max_age_seconds).
ALTER TABLE console_sessions ADD COLUMN authenticated_at timestamptz;
