-- Consumers of the event log (hooks now; alert deliverers later): each keeps a durable
-- cursor (the last event id it has handled) and a lease, so that of all the processes
-- that run one consumer only the lease holder delivers its events.
CREATE TABLE horae_consumers (
    name TEXT PRIMARY KEY,
    cursor BIGINT NOT NULL,
    lease_owner TEXT,
    lease_expires_at DOUBLE PRECISION,
    updated_at DOUBLE PRECISION NOT NULL
);

-- A schedule change says whether the schedule was paused before, so a consumer can tell
-- "paused" and "resumed" from other updates.
CREATE OR REPLACE FUNCTION horae_event_schedule() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF TG_OP = 'DELETE' THEN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data)
    VALUES (extract(epoch from clock_timestamp())::float8, TG_ARGV[0], NULL, OLD.id,
            json_build_object('version', OLD.version)::text); RETURN NULL; END IF; INSERT INTO horae_events (ts, kind, run_id, schedule_id, data)
    VALUES (extract(epoch from clock_timestamp())::float8, TG_ARGV[0], NULL, NEW.id,
            json_build_object('version', NEW.version, 'paused', NEW.paused,
                              'was_paused', CASE WHEN TG_OP = 'UPDATE' THEN OLD.paused END,
                              'next_fire_at', NEW.next_fire_at)::text); RETURN NULL; END
$$;
