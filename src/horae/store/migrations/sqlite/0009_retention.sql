-- Retention moves out of the write path. The trigger of 0003 deleted old events inside
-- whichever transaction wrote every 1000th event (a fire pass, a batch of outcomes), so
-- fires paid for it; the scheduler's retention pass (store/retention.py) now deletes old
-- events, runs and log lines in short batches of their own, as configured
-- (events_keep_hours, runs_keep_days, runs_keep_per_schedule).
DROP TRIGGER IF EXISTS horae_events_retention;
