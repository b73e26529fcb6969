-- Notification channels (docs/alerts.md): where alerts go (email, webhooks, chat robots).
-- config is the kind's settings as JSON, which anyone who may read channels sees; secrets
-- is a separate JSON object (passwords, signing secrets, robot webhook URLs) that no read
-- model, answer, log line or audit record carries. It is stored as given: whoever can read
-- this table can read the secrets. version grows by one at each change (lost updates).
CREATE TABLE horae_channels (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets TEXT NOT NULL DEFAULT '{}',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    version INTEGER NOT NULL DEFAULT 1
);
