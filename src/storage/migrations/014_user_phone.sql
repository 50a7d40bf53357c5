-- A user's phone number (E.164) for text messages (notifications.sms): security alerts go
-- only to a number the user proved is theirs, with a code sent to it from /account. The
-- number being verified and its code (a SHA-256, never the code) wait beside it; a wrong
-- code counts an attempt, and a code expires.
ALTER TABLE users
  ADD COLUMN phone text,
  ADD COLUMN phone_verified_at timestamptz,
  ADD COLUMN phone_pending text,
  ADD COLUMN phone_code_hash text,
  ADD COLUMN phone_code_expires_at timestamptz,
  ADD COLUMN phone_code_attempts integer NOT NULL DEFAULT 0;
