-- The schedule list of the console and the API at 100,000 schedules: each filter and the
-- next-fire order walk an index instead of the whole table. Nothing here touches
-- horae_runs. A fire changes next_fire_at and counters only, and SQLite updates only the
-- indexes of changed columns, so the task, queue and tag indexes cost a fire nothing
-- (PostgreSQL, which would write them all at every fire, does without them).

-- order=next_fire pages by (next_fire_at, id) over unpaused schedules; the scheduler's
-- due query reads the same index (its key grows by the id).
DROP INDEX horae_schedules_due;
CREATE INDEX horae_schedules_due ON horae_schedules (next_fire_at, id) WHERE paused = 0;
CREATE INDEX horae_schedules_paused ON horae_schedules (id) WHERE paused = 1;
CREATE INDEX horae_schedules_task ON horae_schedules (task, id);
CREATE INDEX horae_schedules_queue ON horae_schedules (json_extract(policies, '$.queue'), id);
CREATE INDEX horae_schedules_failing ON horae_schedules (id)
    WHERE last_state IN ('failed', 'timed_out', 'lost');
-- tag=: the tags beside the ids, a narrow index read instead of the whole table.
CREATE INDEX horae_schedules_tags ON horae_schedules (id, tags);
