-- Workflows (docs/workflows.md): a named DAG of steps kept as its JSON definition, which
-- the application validates before writing. version grows by one at each change, and each
-- version's definition is kept in horae_workflow_versions, also after the workflow is
-- removed: an (id, version) pair names one definition forever, so a workflow run can always
-- read the definition it started from, and a workflow added again under a removed id goes
-- on from the old versions instead of reusing their numbers.
CREATE TABLE horae_workflows (
    id TEXT PRIMARY KEY,
    definition TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    version INTEGER NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
);

CREATE TABLE horae_workflow_versions (
    workflow_id TEXT NOT NULL,
    version INTEGER NOT NULL,
    definition TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (workflow_id, version)
);
