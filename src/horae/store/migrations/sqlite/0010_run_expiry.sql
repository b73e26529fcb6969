-- expire_after (a schedule policy): a fired run not started by expires_at is not started
-- at all; the scheduler records it as missed with the reason (store/expiry.py). Claims
-- skip such a run at once; the partial index lets the sweep find the expired waiting runs
-- without reading the queue.
ALTER TABLE horae_runs ADD COLUMN expires_at REAL;
CREATE INDEX horae_runs_expiring ON horae_runs (expires_at)
    WHERE expires_at IS NOT NULL AND state IN ('scheduled', 'queued');
