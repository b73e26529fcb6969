CREATE TABLE horae_meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO horae_meta (key, value) VALUES ('schedules_changed', 0);

CREATE TABLE horae_schedules (
    id TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    trigger TEXT NOT NULL,
    args TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    policies TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    tags TEXT NOT NULL DEFAULT '[]',
    next_fire_at REAL,
    fires INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0,
    skipped INTEGER NOT NULL DEFAULT 0,
    successes INTEGER NOT NULL DEFAULT 0,
    failures INTEGER NOT NULL DEFAULT 0,
    last_state TEXT,
    last_run_at REAL,
    version INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX horae_schedules_due ON horae_schedules (next_fire_at) WHERE paused = 0;

CREATE TABLE horae_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task TEXT NOT NULL,
    state TEXT NOT NULL,
    schedule_id TEXT,
    fire_time REAL,
    origin TEXT NOT NULL,
    args TEXT NOT NULL,
    kwargs TEXT NOT NULL,
    queue TEXT NOT NULL,
    priority INTEGER NOT NULL DEFAULT 0,
    not_before REAL NOT NULL,
    created_at REAL NOT NULL,
    started_at REAL,
    finished_at REAL,
    attempt INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 1,
    retry_backoff REAL NOT NULL DEFAULT 1,
    retry_backoff_max REAL NOT NULL DEFAULT 3600,
    timeout REAL,
    lease_owner TEXT,
    lease_expires_at REAL,
    worker_id TEXT,
    result TEXT,
    error TEXT,
    traceback TEXT,
    progress REAL,
    progress_message TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    parent_id INTEGER,
    shard_index INTEGER,
    shard_total INTEGER,
    retry_of INTEGER,
    UNIQUE (schedule_id, fire_time)
);
CREATE INDEX horae_runs_claim ON horae_runs (queue, priority DESC, not_before, id)
    WHERE state IN ('scheduled', 'queued', 'retrying');
CREATE INDEX horae_runs_active ON horae_runs (schedule_id)
    WHERE state IN ('scheduled', 'queued', 'retrying', 'running');
CREATE INDEX horae_runs_lease ON horae_runs (lease_expires_at) WHERE state = 'running';
CREATE INDEX horae_runs_finished ON horae_runs (finished_at);
CREATE INDEX horae_runs_state ON horae_runs (state, id);
CREATE INDEX horae_runs_task ON horae_runs (task, id);

CREATE TABLE horae_run_logs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL,
    ts REAL NOT NULL,
    level TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX horae_run_logs_run ON horae_run_logs (run_id, id);

CREATE TABLE horae_workers (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    queues TEXT NOT NULL,
    labels TEXT NOT NULL,
    concurrency INTEGER NOT NULL,
    state TEXT NOT NULL,
    started_at REAL NOT NULL,
    heartbeat_at REAL NOT NULL,
    running INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE horae_tasks (
    name TEXT PRIMARY KEY,
    schema TEXT NOT NULL,
    queue TEXT NOT NULL,
    mode TEXT NOT NULL,
    doc TEXT NOT NULL,
    retries INTEGER NOT NULL DEFAULT 0,
    timeout REAL,
    updated_at REAL NOT NULL
);
