-- The REST API: tokens, audit, idempotent requests, and the event log behind /api/v1/events.
-- Statements are split on ";" at the end of a line: a semicolon inside a trigger body is
-- followed by a space, never by a line break.

CREATE TABLE horae_api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    hash TEXT NOT NULL,
    created_at REAL NOT NULL,
    created_by TEXT,
    last_used_at REAL,
    revoked_at REAL
);

CREATE TABLE horae_audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    actor TEXT NOT NULL,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    target_kind TEXT NOT NULL,
    target_id TEXT,
    before_data TEXT,
    after_data TEXT
);
CREATE INDEX horae_audit_target ON horae_audit (target_kind, target_id, id);

-- Append-only: the database itself refuses to change or delete an audit record.
CREATE TRIGGER horae_audit_no_update BEFORE UPDATE ON horae_audit
BEGIN SELECT RAISE(ABORT, 'horae_audit is append-only'); END;
CREATE TRIGGER horae_audit_no_delete BEFORE DELETE ON horae_audit
BEGIN SELECT RAISE(ABORT, 'horae_audit is append-only'); END;

CREATE TABLE horae_idempotency (
    actor TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER,
    body TEXT,
    created_at REAL NOT NULL,
    PRIMARY KEY (actor, key)
);
CREATE INDEX horae_idempotency_created ON horae_idempotency (created_at);

CREATE TABLE horae_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts REAL NOT NULL,
    kind TEXT NOT NULL,
    run_id INTEGER,
    schedule_id TEXT,
    data TEXT NOT NULL
);

-- Events are written by triggers, in the transaction of the change they describe, whoever
-- makes it (scheduler, worker, API, CLI, another host).
CREATE TRIGGER horae_events_run_insert AFTER INSERT ON horae_runs
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'run.state', NEW.id, NEW.schedule_id,
    json_object('state', NEW.state, 'task', NEW.task, 'attempt', NEW.attempt,
                'queue', NEW.queue, 'origin', NEW.origin, 'progress', NEW.progress,
                'progress_message', NEW.progress_message, 'worker_id', NEW.worker_id,
                'error', NEW.error)); END;
CREATE TRIGGER horae_events_run_state AFTER UPDATE OF state ON horae_runs
WHEN NEW.state <> OLD.state
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'run.state', NEW.id, NEW.schedule_id,
    json_object('state', NEW.state, 'task', NEW.task, 'attempt', NEW.attempt,
                'queue', NEW.queue, 'origin', NEW.origin, 'progress', NEW.progress,
                'progress_message', NEW.progress_message, 'worker_id', NEW.worker_id,
                'error', NEW.error)); END;
CREATE TRIGGER horae_events_run_progress AFTER UPDATE OF progress, progress_message
ON horae_runs
WHEN NEW.state = OLD.state AND (NEW.progress IS NOT OLD.progress
                                OR NEW.progress_message IS NOT OLD.progress_message)
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'run.progress', NEW.id, NEW.schedule_id,
    json_object('state', NEW.state, 'task', NEW.task, 'attempt', NEW.attempt,
                'progress', NEW.progress, 'progress_message', NEW.progress_message)); END;
CREATE TRIGGER horae_events_run_log AFTER INSERT ON horae_run_logs
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'run.log', NEW.run_id, NULL,
    json_object('log_id', NEW.id, 'ts', NEW.ts, 'level', NEW.level,
                'message', NEW.message)); END;
CREATE TRIGGER horae_events_schedule_insert AFTER INSERT ON horae_schedules
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'schedule.created', NULL, NEW.id,
    json_object('version', NEW.version, 'paused', NEW.paused,
                'next_fire_at', NEW.next_fire_at)); END;
CREATE TRIGGER horae_events_schedule_update AFTER UPDATE OF version ON horae_schedules
WHEN NEW.version <> OLD.version
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'schedule.changed', NULL, NEW.id,
    json_object('version', NEW.version, 'paused', NEW.paused,
                'next_fire_at', NEW.next_fire_at)); END;
CREATE TRIGGER horae_events_schedule_delete AFTER DELETE ON horae_schedules
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'schedule.deleted', NULL, OLD.id,
    json_object('version', OLD.version)); END;

-- Retention without a janitor: every 1000th event looks at the 2000 oldest and deletes
-- those older than a day, or more than a million events behind.
CREATE TRIGGER horae_events_retention AFTER INSERT ON horae_events
WHEN NEW.id % 1000 = 0
BEGIN DELETE FROM horae_events WHERE id IN (
    SELECT id FROM horae_events ORDER BY id LIMIT 2000)
    AND (ts < NEW.ts - 86400 OR id <= NEW.id - 1000000); END;
