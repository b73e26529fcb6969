-- Failed authentications, shared by every API process (horae.store.auth_store): one row
-- per client address ('addr:<ip>') or account name ('account:<name>') with the failures
-- counted in its current window. Rows whose window has passed are pruned, so the table
-- holds at most the keys that failed within the last window.

CREATE TABLE horae_auth_failures (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_start DOUBLE PRECISION NOT NULL
);
CREATE INDEX horae_auth_failures_window ON horae_auth_failures (window_start);

-- A console session's id is now the SHA-256 of the random secret its cookie carries (the
-- cookie no longer carries the API token). Sessions made before were keyed by the value
-- their cookie held beside the token: end them all; people sign in again.
DELETE FROM horae_console_sessions;
