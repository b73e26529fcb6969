-- User accounts with passwords (console sign-in), and console sessions that belong to a
-- user instead of an API token. The password is stored only as an scrypt hash with its
-- salt and parameters (horae.api.passwords); a disabled user stays for the audit trail.

CREATE TABLE horae_users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'editor', 'admin')),
    password_hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT,
    password_changed_at REAL NOT NULL,
    disabled_at REAL
);

-- A session acts for an API token (token_id) or for a user (user_id; token_id is '').
ALTER TABLE horae_console_sessions ADD COLUMN user_id INTEGER;
CREATE INDEX horae_console_sessions_user ON horae_console_sessions (user_id);
