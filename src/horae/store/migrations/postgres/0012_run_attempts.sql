-- Every attempt of a run, for the run page. A retried run stays one row whose attempt
-- counter goes up, so when an attempt ends with another to come (running -> retrying) a
-- trigger copies its outcome here, whoever ends it (a worker's outcome or a lease rescue);
-- the last attempt is the run row itself, so a run that succeeds at once writes nothing
-- here. Log lines carry the attempt that wrote them; workers record their version.
ALTER TABLE horae_run_logs ADD COLUMN attempt INTEGER;
ALTER TABLE horae_workers ADD COLUMN version TEXT NOT NULL DEFAULT '';
CREATE TABLE horae_run_attempts (
    run_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    state TEXT NOT NULL,
    worker_id TEXT,
    started_at DOUBLE PRECISION,
    finished_at DOUBLE PRECISION NOT NULL,
    error TEXT,
    traceback TEXT,
    PRIMARY KEY (run_id, attempt)
);
CREATE FUNCTION horae_run_attempt_end() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO horae_run_attempts (run_id, attempt, state, worker_id, started_at,
    finished_at, error, traceback) VALUES (NEW.id, NEW.attempt,
    CASE WHEN substr(NEW.error, 1, 15) = 'timed out after' THEN 'timed_out'
         WHEN substr(NEW.error, 1, 13) = 'lease expired' THEN 'lost' ELSE 'failed' END,
    OLD.worker_id, NEW.started_at, extract(epoch from clock_timestamp())::float8,
    NEW.error, NEW.traceback)
    ON CONFLICT (run_id, attempt) DO UPDATE SET state = excluded.state,
    worker_id = excluded.worker_id, started_at = excluded.started_at,
    finished_at = excluded.finished_at, error = excluded.error,
    traceback = excluded.traceback; RETURN NULL; END
$$;
CREATE TRIGGER horae_run_attempt_end AFTER UPDATE OF state ON horae_runs
    FOR EACH ROW WHEN (OLD.state = 'running' AND NEW.state = 'retrying')
    EXECUTE FUNCTION horae_run_attempt_end();
