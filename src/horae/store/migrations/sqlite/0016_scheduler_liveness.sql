-- When schedulers were alive, so that "why didn't it fire?" (horae.explain) can say "the
-- scheduler was down from ... to ...". One row per scheduler process start; the running
-- scheduler moves seen_at forward at most every few seconds (store/explain_queries.py).
-- A gap between one row's seen_at and the next row's started_at is a time when no
-- scheduler was running. Rows older than the kept span are deleted at each start.
CREATE TABLE horae_schedulers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started_at REAL NOT NULL,
    seen_at REAL NOT NULL,
    stopped_at REAL
);
CREATE INDEX horae_schedulers_seen ON horae_schedulers (seen_at);
