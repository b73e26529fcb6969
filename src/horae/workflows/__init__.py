"""Workflows: a named, versioned DAG of steps stored in the database (see docs/workflows.md).

This package holds the model, its validation, the builders, the ``app.workflows`` API
(``run`` starts a workflow run), the pure decisions of a running workflow (``engine``) and
the resolution of each step's run fields (``starting``). The SQL of running one is in
``store/workflow_runs.py``: a workflow run records ``(workflow id, version)`` and reads its
definition from ``horae_workflow_versions``, so an edit never changes a run in flight; each
step becomes runs whose ``parent_id`` is the workflow run, inserted in the transaction that
records its last predecessor's outcome.
"""

from horae.workflows.builders import Signature, chain, chord, dag, group, signature
from horae.workflows.model import Callback, Step, Workflow
from horae.workflows.validate import parse_workflow

__all__ = ["Callback", "Signature", "Step", "Workflow", "chain", "chord", "dag", "group",
           "parse_workflow", "signature"]
