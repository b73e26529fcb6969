-- Backfills (docs/semantics.md, "Backfill"): a schedule run over a past range [range_from,
-- range_to). The row is the backfill's progress: the scheduler queues its fires a few at
-- a time (at most `concurrency` active runs), from `cursor`, the next fire time not yet
-- queued (NULL once every fire was queued or skipped), so a backfill of 43,200 fires never
-- inserts 43,200 waiting runs at once. `plan_window` is the trigger and start/end window
-- the plan was confirmed with (JSON). Its runs are ordinary horae_runs rows with origin
-- 'backfill' and their logical fire_time.
CREATE TABLE horae_backfills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id TEXT NOT NULL,
    range_from REAL NOT NULL,
    range_to REAL NOT NULL,
    concurrency INTEGER NOT NULL,
    state TEXT NOT NULL,
    total INTEGER NOT NULL,
    created INTEGER NOT NULL DEFAULT 0,
    skipped_existing INTEGER NOT NULL DEFAULT 0,
    created_by TEXT,
    created_at REAL NOT NULL,
    finished_at REAL,
    cursor REAL,
    plan_window TEXT NOT NULL
);
CREATE INDEX horae_backfills_schedule ON horae_backfills (schedule_id, id);
CREATE INDEX horae_backfills_running ON horae_backfills (id) WHERE state = 'running';
