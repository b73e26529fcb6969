"""Workflows: add, read, list, replace (with a version check) and remove their definitions.

The store keeps a definition as the JSON the application validated; it checks nothing in
it. Each version is also written to ``horae_workflow_versions`` in the same transaction,
so ``(id, version)`` names one definition forever (see migration 0013).
"""

from __future__ import annotations

import json
from typing import Any

from horae.errors import Conflict, NotFound
from horae.store import rows as R
from horae.store.base import StoreBase
from horae.store.connection import Tx
from horae.workflows.model import Workflow

WORKFLOW_COLUMNS = ("id", "definition", "description", "version", "created_at", "updated_at")
WORKFLOW_VERSION_COLUMNS = ("workflow_id", "version", "definition", "created_at")
_COLS = R.columns(WORKFLOW_COLUMNS)


def workflow_from_row(row: dict[str, Any]) -> Workflow:
    return Workflow.from_definition(row["id"], json.loads(row["definition"]),
                                    version=int(row["version"]),
                                    created_at=float(row["created_at"]),
                                    updated_at=float(row["updated_at"]))


class WorkflowQueries(StoreBase):
    def workflow_add(self, w: Workflow) -> Workflow:
        """Insert a new workflow at the version after any its id had before (1 for a new
        id). Raises Conflict when the id exists."""
        with self.db.write() as tx:
            row = tx.one(
                f"INSERT INTO horae_workflows ({_COLS}) SELECT :id, :definition, :description,"
                " coalesce((SELECT max(version) FROM horae_workflow_versions"
                " WHERE workflow_id = :id), 0) + 1, :now, :now"
                f" ON CONFLICT (id) DO NOTHING RETURNING {_COLS}",
                {"id": w.id, "definition": R.dumps(w.definition()),
                 "description": w.description, "now": self._now(tx)},
            )
            if row is None:
                raise Conflict(f"workflow {w.id!r} already exists")
            added = self._version_written(tx, row)
        return added

    def workflow_get(self, workflow_id: str, version: int | None = None) -> Workflow:
        """The workflow as it is now, or as it was at ``version`` (also once removed)."""
        with self.db.read() as tx:
            if version is None:
                row = tx.one(f"SELECT {_COLS} FROM horae_workflows WHERE id = :id",
                             {"id": workflow_id})
            else:
                row = tx.one(
                    "SELECT workflow_id AS id, definition, '' AS description, version,"
                    " created_at, created_at AS updated_at FROM horae_workflow_versions"
                    " WHERE workflow_id = :id AND version = :version",
                    {"id": workflow_id, "version": version},
                )
        if row is None:
            raise NotFound("workflow", workflow_id if version is None
                           else f"{workflow_id}@{version}")
        return workflow_from_row(row)

    def workflow_versions(self, workflow_id: str) -> list[int]:
        """The versions kept of a workflow id, oldest first (empty: never written)."""
        with self.db.read() as tx:
            rows = tx.all("SELECT version FROM horae_workflow_versions WHERE workflow_id = :id"
                          " ORDER BY version", {"id": workflow_id})
        return [int(r["version"]) for r in rows]

    def workflow_list(self, *, search: str | None = None, after: str | None = None,
                      limit: int = 100) -> list[Workflow]:
        """Workflows ordered by id; ``search``: text in the id or description (any case);
        ``after``: the last id of the previous page."""
        where: list[str] = ["1 = 1"]
        params: dict[str, Any] = {"limit": limit}
        if search:
            where.append("(lower(id) LIKE :search ESCAPE '\\' OR lower(description) LIKE"
                         " :search ESCAPE '\\')")
            escaped = search.lower().replace("\\", "\\\\").replace("%", "\\%") \
                .replace("_", "\\_")
            params["search"] = f"%{escaped}%"
        if after is not None:
            where.append("id > :after")
            params["after"] = after
        with self.db.read() as tx:
            rows = tx.all(f"SELECT {_COLS} FROM horae_workflows WHERE {' AND '.join(where)}"
                          " ORDER BY id LIMIT :limit", params)
        return [workflow_from_row(r) for r in rows]

    def workflow_replace(self, w: Workflow, *, expected_version: int | None = None) -> Workflow:
        """Write ``w``'s definition as the next version. With ``expected_version``, raises
        Conflict when the stored version differs (a lost update); NotFound when absent."""
        guard = "" if expected_version is None else " AND version = :expected"
        with self.db.write() as tx:
            row = tx.one(
                "UPDATE horae_workflows SET definition = :definition, description ="
                f" :description, version = version + 1, updated_at = {self.db.now_sql}"
                f" WHERE id = :id{guard} RETURNING {_COLS}",
                {"id": w.id, "definition": R.dumps(w.definition()),
                 "description": w.description, "expected": expected_version},
            )
            if row is None:
                self._missing_or_moved(tx, w.id, expected_version)
            assert row is not None
            replaced = self._version_written(tx, row)
        return replaced

    def workflow_delete(self, workflow_id: str, *, expected_version: int | None = None) -> None:
        """Remove a workflow (its versions stay). NotFound, or Conflict on a lost update."""
        guard = "" if expected_version is None else " AND version = :expected"
        with self.db.write() as tx:
            if not tx.run(f"DELETE FROM horae_workflows WHERE id = :id{guard}",
                          {"id": workflow_id, "expected": expected_version}):
                self._missing_or_moved(tx, workflow_id, expected_version)
            self._changed(tx, None)

    def _version_written(self, tx: Tx, row: dict[str, Any]) -> Workflow:
        tx.run("INSERT INTO horae_workflow_versions (workflow_id, version, definition,"
               " created_at) VALUES (:id, :version, :definition, :updated_at)", row)
        written = workflow_from_row(row)
        self._changed(tx, written)
        return written

    def _missing_or_moved(self, tx: Tx, workflow_id: str, expected: int | None) -> None:
        found = tx.one("SELECT version FROM horae_workflows WHERE id = :id", {"id": workflow_id})
        if found is None:
            raise NotFound("workflow", workflow_id)
        raise Conflict(f"workflow {workflow_id!r} changed meanwhile (version "
                       f"{found['version']}, expected {expected}); reload it and try again")
