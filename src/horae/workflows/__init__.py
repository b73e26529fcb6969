"""Workflows: a named, versioned DAG of steps stored in the database (see docs/workflows.md).

This package holds the definition layer: the model, its validation, the builders and the
``app.workflows`` API. Running a workflow (steps becoming runs) is not part of it yet.
"""

from horae.workflows.builders import Signature, chain, chord, dag, group, signature
from horae.workflows.model import Callback, Step, Workflow
from horae.workflows.validate import parse_workflow

__all__ = ["Callback", "Signature", "Step", "Workflow", "chain", "chord", "dag", "group",
           "parse_workflow", "signature"]
