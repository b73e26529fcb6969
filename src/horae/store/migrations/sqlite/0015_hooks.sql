-- Consumers of the event log (hooks now; alert deliverers later): each keeps a durable
-- cursor (the last event id it has handled) and a lease, so that of all the processes
-- that run one consumer only the lease holder delivers its events.
CREATE TABLE horae_consumers (
    name TEXT PRIMARY KEY,
    cursor INTEGER NOT NULL,
    lease_owner TEXT,
    lease_expires_at REAL,
    updated_at REAL NOT NULL
);

-- A schedule change says whether the schedule was paused before, so a consumer can tell
-- "paused" and "resumed" from other updates.
DROP TRIGGER horae_events_schedule_update;
CREATE TRIGGER horae_events_schedule_update AFTER UPDATE OF version ON horae_schedules
WHEN NEW.version <> OLD.version
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data) VALUES (
    (julianday('now') - 2440587.5) * 86400.0, 'schedule.changed', NULL, NEW.id,
    json_object('version', NEW.version, 'paused', NEW.paused, 'was_paused', OLD.paused,
                'next_fire_at', NEW.next_fire_at)); END;
