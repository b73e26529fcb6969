-- Every index on horae_runs is paid for by every fire. A new run has no finished_at and
-- an active state, so these two indexes now hold only rows that need them: finished
-- runs (for retention and time windows) and runs that ended badly (for "show failures").
-- Listing by an active state or by success walks the primary key newest first instead.
DROP INDEX horae_runs_finished;
CREATE INDEX horae_runs_finished ON horae_runs (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX horae_runs_state;
CREATE INDEX horae_runs_state ON horae_runs (state, id)
    WHERE state IN ('failed', 'timed_out', 'cancelled', 'skipped', 'missed', 'lost');

-- One event row per inserted run, written by one statement per INSERT (a transition
-- table) instead of one function call per row: a scheduler pass inserts thousands.
DROP TRIGGER horae_events_run_insert ON horae_runs;
CREATE FUNCTION horae_event_runs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO horae_events (ts, kind, run_id, schedule_id, data)
    SELECT extract(epoch from clock_timestamp())::float8, 'run.state', n.id, n.schedule_id,
           json_build_object('state', n.state, 'task', n.task, 'attempt', n.attempt,
                             'queue', n.queue, 'origin', n.origin, 'progress', n.progress,
                             'progress_message', n.progress_message,
                             'worker_id', n.worker_id, 'error', n.error)::text
    FROM new_runs AS n ORDER BY n.id; RETURN NULL; END
$$;
CREATE TRIGGER horae_events_run_insert AFTER INSERT ON horae_runs
    REFERENCING NEW TABLE AS new_runs
    FOR EACH STATEMENT EXECUTE FUNCTION horae_event_runs_inserted();
