-- A console page's one-time result (a client secret just made, recovery codes) waits here,
-- sealed, between the POST that made it and the GET it redirects to, so it never travels in
-- a URL and a reload never repeats the change (post/redirect/get). Read once: the GET that
-- takes it clears it (console/console-flash.ts).
ALTER TABLE console_sessions ADD COLUMN flash_enc text;
