-- The web console: its signing secret (made at first start, never a default) and its
-- sign-in sessions. A session names the API token it acts with; the token itself is never
-- stored here (it travels in the signed, HttpOnly session cookie).

CREATE TABLE horae_console_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE horae_console_sessions (
    id TEXT PRIMARY KEY,
    token_id TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    expires_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX horae_console_sessions_token ON horae_console_sessions (token_id);
CREATE INDEX horae_console_sessions_expires ON horae_console_sessions (expires_at);
