-- Every index on horae_runs is paid for by every fire. A new run has no finished_at and
-- an active state, so these two indexes now hold only rows that need them: finished
-- runs (for retention and time windows) and runs that ended badly (for "show failures").
-- Listing by an active state or by success walks the primary key newest first instead.
DROP INDEX horae_runs_finished;
CREATE INDEX horae_runs_finished ON horae_runs (finished_at) WHERE finished_at IS NOT NULL;
DROP INDEX horae_runs_state;
CREATE INDEX horae_runs_state ON horae_runs (state, id)
    WHERE state IN ('failed', 'timed_out', 'cancelled', 'skipped', 'missed', 'lost');
