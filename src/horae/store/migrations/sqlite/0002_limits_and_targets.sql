ALTER TABLE horae_tasks ADD COLUMN concurrency INTEGER;
ALTER TABLE horae_runs ADD COLUMN target_worker TEXT;
ALTER TABLE horae_runs ADD COLUMN fanout TEXT;
CREATE INDEX horae_runs_parent ON horae_runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX horae_runs_running_task ON horae_runs (task) WHERE state = 'running';
CREATE INDEX horae_runs_fanout_due ON horae_runs (not_before)
    WHERE fanout IS NOT NULL AND state IN ('scheduled', 'queued', 'retrying');
