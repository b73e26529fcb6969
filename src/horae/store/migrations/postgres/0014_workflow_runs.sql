-- Workflow runs (docs/workflows.md, store/workflow_runs.py). A workflow run is a parent run
-- (fanout = 'workflow') that workers never claim, pinned to the definition it started from
-- (workflow_id, workflow_version); each step is a child run with its step id and the
-- predecessors' results it was given (inputs, JSON text).
ALTER TABLE horae_runs ADD COLUMN workflow_id TEXT;
ALTER TABLE horae_runs ADD COLUMN workflow_version INTEGER;
ALTER TABLE horae_runs ADD COLUMN step TEXT;
ALTER TABLE horae_runs ADD COLUMN inputs TEXT;
-- A step's runs are inserted once: a second insert of the same (workflow run, step, item)
-- fails the transaction instead of starting the step twice.
CREATE UNIQUE INDEX horae_runs_step ON horae_runs (parent_id, step, COALESCE(shard_index, -1))
    WHERE step IS NOT NULL;
-- One row per (workflow run, step or callback), changed under the workflow run's row lock: what an
-- outcome needs to decide (state, runs started and ended, the first bad outcome, a mapped
-- step's items not yet started, and the run fields the step was resolved to when the
-- workflow run started: spec), so it reads its step's successors, not every child.
-- state: waiting, active, then succeeded, failed, timed_out, lost, cancelled, skipped or
-- upstream_failed (skipped because an upstream step failed); a callback's row is 'callback'.
CREATE TABLE horae_workflow_steps (
    run_id BIGINT NOT NULL,
    step TEXT NOT NULL,
    state TEXT NOT NULL,
    total INTEGER NOT NULL DEFAULT 0,
    done INTEGER NOT NULL DEFAULT 0,
    outcome TEXT,
    items TEXT,
    spec TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);
