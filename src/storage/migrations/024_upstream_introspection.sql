-- A connection's `introspection_endpoint` (issue 14, item 3): at each refresh of a session
-- that came through it, Atrium asks the upstream (RFC 7662) whether the token it issued at
-- the sign-in is still active. That token is kept with the upstream sign-in, sealed like
-- the ID token (SecretBox, context `federated-session-token:<tenant>:<interaction uid>`):
-- it is a bearer credential at the upstream. `upstream_token_kind` says which one it is
-- (the refresh token when the upstream issued one, else the access token), for
-- `token_type_hint`. Both are null for a connection without introspection.
ALTER TABLE federated_sessions ADD COLUMN upstream_token_enc text, ADD COLUMN upstream_token_kind text CHECK (upstream_token_kind IN ('refresh_token', 'access_token'));
