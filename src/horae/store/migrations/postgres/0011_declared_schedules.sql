-- Schedules declared in code (app.schedules.ensure, @app.periodic). ``declared`` marks them
-- for people (CLI, API, console); ``declared_fingerprint`` is a hash of the definition the
-- code last wrote, so a process that starts with the same code writes nothing (its fires
-- and any operator's edits stay as they are) and one with changed code updates it once.
ALTER TABLE horae_schedules ADD COLUMN declared INTEGER NOT NULL DEFAULT 0;
ALTER TABLE horae_schedules ADD COLUMN declared_fingerprint TEXT;
