"""Workflows: a named, versioned DAG of steps stored in the database (see docs/workflows.md).

This package holds the definition layer: the model, its validation, the builders and the
``app.workflows`` API. Running a workflow (steps becoming runs) is not part of it yet.

The data is laid out for running (the plan, not built here): a workflow run will record
``(workflow id, version)`` and read its definition from ``horae_workflow_versions``, which
keeps every version also after an edit or a remove, so an edit never changes a run in
flight and a resume re-reads the same steps. Each step becomes a run whose ``parent_id`` is
the workflow run, named by its step id (and item index for a mapped step); a unique key on
(parent, step, index) and inserting a step's run in the transaction that records its last
predecessor's outcome (:meth:`Workflow.downstream` says which steps an outcome may unblock,
each step's ``trigger_rule`` whether it starts) would make each transition happen once.
"""

from horae.workflows.builders import Signature, chain, chord, dag, group, signature
from horae.workflows.model import Callback, Step, Workflow
from horae.workflows.validate import parse_workflow

__all__ = ["Callback", "Signature", "Step", "Workflow", "chain", "chord", "dag", "group",
           "parse_workflow", "signature"]
