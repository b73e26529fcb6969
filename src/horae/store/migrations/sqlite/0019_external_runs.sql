-- Runs executed by an outside system (the Celery bridge, horae.integrations.celery): the
-- id the run was published under, the attempt that published it, and when the publish was
-- confirmed. The intent (external_id, external_attempt) is committed BEFORE the message is
-- sent and external_published_at right AFTER, so an attempt that takes over a lost one
-- knows whether to re-attach to the message or to send it (store/external_runs.py).
ALTER TABLE horae_runs ADD COLUMN external_id TEXT;
ALTER TABLE horae_runs ADD COLUMN external_attempt INTEGER;
ALTER TABLE horae_runs ADD COLUMN external_published_at REAL;
