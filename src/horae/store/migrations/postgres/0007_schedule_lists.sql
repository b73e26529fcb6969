-- The schedule list of the console and the API at 100,000 schedules: the next-fire order
-- and the paused and failing filters walk an index instead of the whole table. Nothing
-- here touches horae_runs.
--
-- Fewer indexes than on SQLite: every fire updates its schedule's next_fire_at, an indexed
-- column, so PostgreSQL writes a new entry into every index of horae_schedules at every
-- fire (SQLite updates only the indexes whose columns change). The task, queue and tag
-- filters read the table here (a substring test before any JSON is parsed); the partial
-- indexes below cost a fire nothing (paused schedules do not fire) or little (failing ones).

-- order=next_fire pages by (next_fire_at, id) over unpaused schedules; the scheduler's
-- due query reads the same index (its key grows by the id).
DROP INDEX horae_schedules_due;
CREATE INDEX horae_schedules_due ON horae_schedules (next_fire_at, id) WHERE paused = 0;
CREATE INDEX horae_schedules_paused ON horae_schedules (id) WHERE paused = 1;
CREATE INDEX horae_schedules_failing ON horae_schedules (id)
    WHERE last_state IN ('failed', 'timed_out', 'lost');
