"""Workflow runs: start one, and move it on in the transaction of each step's outcome.

A workflow run is a parent run (``fanout = 'workflow'``) that workers never claim, pinned
to ``(workflow_id, workflow_version)``; each step becomes child runs (``parent_id``, with
``step`` and ``inputs``). ``horae_workflow_steps`` keeps one row per (workflow run, step):
its state, how many of its runs started and ended, its first bad outcome, a mapped step's
items not started yet (``concurrency``) and the run fields resolved when the workflow run
started (``spec``: task, arguments, queue, retries, timeout, priority).

The transition rule: every transaction that ends a step's run (a worker's outcome, a lease
rescue, a cancel) calls :func:`children_ended` after writing it, with the workflow run's
row already locked (``StoreBase._lock_runs`` locks parents; the parent's id is below its
children's, so the lock order holds). Under that lock it counts the outcome on its step
row; when the step has ended it decides each successor whose predecessors have all ended
(:mod:`horae.workflows.engine`) and inserts its runs, or its ``skipped`` run; when no step
is open it settles the workflow run and queues its callbacks. Concurrent outcomes of
sibling steps take turns on the parent row, so the last one sees every other committed and
starts the join step once; the unique index ``horae_runs_step`` (parent, step, item)
refuses a second insert in any case. An outcome reads and writes its own step's row and
its successors' predecessors' rows, never every child.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from horae.errors import NotFound
from horae.models import Run
from horae.store import rows as R
from horae.store.base import _RUN_COLS, ACTIVE_SQL, WAITING_SQL, StoreBase
from horae.store.connection import Row, Tx
from horae.workflows import engine
from horae.workflows.model import CALLBACKS, Workflow

STEP_COLUMNS = ("run_id", "step", "state", "total", "done", "outcome", "items", "spec")
#: The run fields a step's spec carries (resolved from the step and its task's catalogue).
SPEC_FIELDS = ("task", "args", "kwargs", "queue", "priority", "max_attempts",
               "retry_backoff", "retry_backoff_max", "timeout")
_CHILD_COLS = (*SPEC_FIELDS, "state", "origin", "not_before", "created_at", "finished_at",
               "parent_id", "shard_index", "shard_total", "workflow_id", "workflow_version",
               "step", "inputs", "error")
_INSERT_CHILD = (f"INSERT INTO horae_runs ({', '.join(_CHILD_COLS)}) VALUES"
                 f" ({', '.join(':' + c for c in _CHILD_COLS)})")


class WorkflowRunQueries(StoreBase):
    def workflow_run_start(self, workflow: Workflow, kwargs: Mapping[str, Any],
                           specs: Mapping[str, Mapping[str, Any]]) -> Run:
        """Insert a workflow run of ``workflow`` (its version as read) and queue its root
        steps, in one transaction.

        ``specs``: step id (and callback name) -> its run fields (``SPEC_FIELDS``), resolved
        by the caller from the step's overrides and its task's catalogue entry.
        """
        with self.db.write() as tx:
            now = self._now(tx)
            total = len(workflow.steps)
            row = tx.one(
                "INSERT INTO horae_runs (task, state, origin, args, kwargs, queue, priority,"
                " not_before, created_at, started_at, max_attempts, fanout, workflow_id,"
                " workflow_version, progress, progress_message) VALUES (:task,"
                " 'running', 'manual', '[]', :kwargs, 'default', 0, :now, :now, :now, 1,"
                " 'workflow', :wid, :version, 0.0, :msg) RETURNING id",
                {"task": f"workflow:{workflow.id}", "kwargs": R.dumps(dict(kwargs)),
                 "now": now, "wid": workflow.id, "version": workflow.version,
                 "msg": engine.progress(0, total)[1]},
            )
            assert row is not None
            pid = int(row["id"])
            names = [s.id for s in workflow.steps] + [c for c in CALLBACKS
                                                       if getattr(workflow, c) is not None]
            tx.many(
                "INSERT INTO horae_workflow_steps (run_id, step, state, spec)"
                " VALUES (:p, :s, :state, :spec)",
                [{"p": pid, "s": n, "spec": R.dumps(dict(specs[n])),
                  "state": "callback" if n in CALLBACKS else "waiting"} for n in names],
            )
            _workflow_cache(self)[(workflow.id, workflow.version)] = workflow
            flow = _Flow(self, tx, pid, now)
            for root in workflow.roots():
                flow.start(root)
            flow.finish()
            started = tx.one(f"SELECT {_RUN_COLS} FROM horae_runs WHERE id = :id", {"id": pid})
            assert started is not None
            run = R.run_from_row(started)
            self._changed(tx, run)
        return run

    def workflow_run_steps(self, run_id: int) -> dict[str, str]:
        """Each step's (and callback's) state in a workflow run, by id; NotFound if none."""
        with self.db.read() as tx:
            rows = tx.all("SELECT step, state FROM horae_workflow_steps WHERE run_id = :p"
                          " ORDER BY step", {"p": run_id})
        if not rows:
            raise NotFound("workflow run", run_id)
        return {r["step"]: r["state"] for r in rows}


def children_ended(store: StoreBase, tx: Tx,
                   ended: Sequence[tuple[int | None, str | None, str]], now: float) -> None:
    """Move workflow runs on after some of their steps' runs ended in this transaction.

    ``ended``: ``(parent_id, step, terminal state)`` of runs just ended (others are ignored:
    runs of no workflow, retries, callbacks). The parents must already be locked.
    """
    per: dict[int, list[tuple[str, str]]] = {}
    for pid, step, state in ended:
        if pid is not None and step is not None and step not in CALLBACKS:
            per.setdefault(pid, []).append((step, state))
    for pid in sorted(per):
        flow = _Flow.open(store, tx, pid, now)
        if flow is None:
            continue
        for step, state in per[pid]:
            flow.run_ended(step, state)
        flow.finish()


def cancel(store: StoreBase, tx: Tx, pid: int, now: float) -> None:
    """Cancel a workflow run whose ``cancel_requested`` was just set: its waiting step runs
    end cancelled, running ones are asked to stop, steps not started never start; it
    settles (``cancelled``) once no step run is active."""
    kids = store._ordered(f"parent_id = :p AND state IN {ACTIVE_SQL}")
    tx.run(f"UPDATE horae_runs SET state = 'cancelled', finished_at = :now,"
           f" error = 'cancelled with its workflow run' WHERE {kids}"
           f" AND state IN {WAITING_SQL}", {"p": pid, "now": now})
    tx.run(f"UPDATE horae_runs SET cancel_requested = 1 WHERE {kids} AND state = 'running'",
           {"p": pid})
    tx.run("UPDATE horae_workflow_steps SET state = 'cancelled'"
           " WHERE run_id = :p AND state = 'waiting'", {"p": pid})
    # Recount the active steps from their runs (cancel is rare; outcomes count one by one).
    counts = tx.all(
        "SELECT step, count(*) AS started, sum(CASE WHEN state IN"
        f" {ACTIVE_SQL} THEN 1 ELSE 0 END) AS open FROM horae_runs WHERE parent_id = :p"
        " AND step IS NOT NULL GROUP BY step", {"p": pid})
    for c in counts:
        started, still = int(c["started"]), int(c["open"] or 0)
        tx.run("UPDATE horae_workflow_steps SET total = :t, done = :d, items = NULL,"
               " outcome = COALESCE(outcome, 'cancelled'),"
               " state = CASE WHEN :open = 0 THEN COALESCE(outcome, 'cancelled') ELSE state END"
               " WHERE run_id = :p AND step = :s AND state = 'active'",
               {"p": pid, "s": c["step"], "t": started, "d": started - still, "open": still})
    flow = _Flow.open(store, tx, pid, now)
    if flow is not None:
        flow.step_ended = True
        flow.finish()


def _workflow_cache(store: StoreBase) -> dict[tuple[str, int], Workflow]:
    # (id, version) names one definition forever (migration 0013): safe to keep per store.
    cache: dict[tuple[str, int], Workflow] = store.__dict__.setdefault("_workflow_defs", {})
    return cache


class _Flow:
    """One workflow run being moved on inside one transaction."""

    def __init__(self, store: StoreBase, tx: Tx, pid: int, now: float) -> None:
        self.store, self.tx, self.pid, self.now = store, tx, pid, now
        parent = tx.one("SELECT workflow_id, workflow_version, cancel_requested"
                        " FROM horae_runs WHERE id = :p", {"p": pid})
        assert parent is not None
        self.cancelled = bool(parent["cancel_requested"])
        key = (str(parent["workflow_id"]), int(parent["workflow_version"]))
        cache = _workflow_cache(store)
        if key not in cache:
            row = tx.one("SELECT definition FROM horae_workflow_versions"
                         " WHERE workflow_id = :w AND version = :v", {"w": key[0], "v": key[1]})
            assert row is not None, f"workflow {key} has no kept definition"
            cache[key] = Workflow.from_definition(key[0], json.loads(row["definition"]),
                                                  version=key[1])
        self.workflow = cache[key]
        self.below = self.workflow.downstream()
        self.step_ended = False
        self.queued = False

    @classmethod
    def open(cls, store: StoreBase, tx: Tx, pid: int, now: float) -> _Flow | None:
        """The flow of workflow run ``pid`` if it is still active, holding its row."""
        if store.db.dialect == "postgres":
            # Callers locked it already (in the lock order); this takes nothing new, and
            # makes sure concurrent outcomes of its steps take turns.
            tx.all("SELECT id FROM horae_runs WHERE id = :p FOR NO KEY UPDATE", {"p": pid})
        row = tx.one(f"SELECT fanout FROM horae_runs WHERE id = :p AND state IN {ACTIVE_SQL}",
                     {"p": pid})
        if row is None or row["fanout"] != "workflow":
            return None
        return cls(store, tx, pid, now)

    # -- reading -----------------------------------------------------------------------

    def row(self, step: str) -> Row:
        row = self.tx.one(f"SELECT {', '.join(STEP_COLUMNS)} FROM horae_workflow_steps"
                          " WHERE run_id = :p AND step = :s", {"p": self.pid, "s": step})
        assert row is not None, f"workflow run {self.pid} has no step {step!r}"
        return row

    def states(self, steps: Sequence[str] | None = None) -> dict[str, str]:
        params: dict[str, Any] = {"p": self.pid}
        where = "run_id = :p"
        if steps is not None:
            where += f" AND {self.store.db.in_list('step', 'steps')}"
            params["steps"] = self.store.db.list_param(list(steps))
        return {r["step"]: r["state"] for r in self.tx.all(
            f"SELECT step, state FROM horae_workflow_steps WHERE {where}", params)}

    def results(self, steps: Sequence[str]) -> dict[str, Any]:
        """Each step's result as a successor sees it: a mapped step's is the list of its
        runs' results in item order; a skipped step's is None."""
        if not steps:
            return {}
        rows = self.tx.all(
            "SELECT step, shard_index, result FROM horae_runs WHERE parent_id = :p AND"
            f" {self.store.db.in_list('step', 'steps')} ORDER BY step, shard_index",
            {"p": self.pid, "steps": self.store.db.list_param(list(steps))})
        out: dict[str, Any] = {s: [] if self.workflow.step(s).map is not None else None
                               for s in steps}
        for r in rows:
            value = None if r["result"] is None else json.loads(r["result"])
            if isinstance(out[r["step"]], list) and r["shard_index"] is not None:
                out[r["step"]].append(value)
            else:
                out[r["step"]] = value
        return out

    # -- writing -----------------------------------------------------------------------

    def insert(self, step: str, spec: Mapping[str, Any], inputs: dict[str, Any], *,
               state: str = "queued", error: str | None = None,
               items: Sequence[tuple[int, Any]] = (), total: int | None = None) -> None:
        """Insert a step's run (or one run per ``(index, item)`` of a mapped step)."""
        base = {f: spec[f] for f in SPEC_FIELDS} | {
            "state": state, "origin": "workflow", "not_before": self.now,
            "created_at": self.now, "parent_id": self.pid,
            "finished_at": None if state == "queued" else self.now,
            "workflow_id": self.workflow.id, "workflow_version": self.workflow.version,
            "step": step, "inputs": R.dumps(inputs), "error": error,
            "args": R.dumps(spec["args"]), "shard_index": None, "shard_total": None}
        if not items:
            rows = [base | {"kwargs": R.dumps(spec["kwargs"])}]
        else:
            rows = [base | {"kwargs": R.dumps(dict(spec["kwargs"]) | {"item": item}),
                            "shard_index": i, "shard_total": total} for i, item in items]
        self.tx.many(_INSERT_CHILD, rows)
        if state == "queued":
            self.queued = True

    def set_step(self, step: str, state: str, **fields: Any) -> None:
        sets = ", ".join(f"{k} = :{k}" for k in ("state", *fields))
        self.tx.run(f"UPDATE horae_workflow_steps SET {sets} WHERE run_id = :p AND step = :s",
                    {"p": self.pid, "s": step, "state": state, **fields})

    # -- transitions -------------------------------------------------------------------

    def run_ended(self, step: str, state: str) -> None:
        """Count one ended run of ``step``; start its next item, or end it."""
        row = self.row(step)
        if row["state"] != "active":
            return
        done = int(row["done"]) + 1
        total = int(row["total"])
        outcome = row["outcome"] or (None if state == "succeeded" else state)
        pending = json.loads(row["items"]) if row["items"] else []
        if pending and self.cancelled:  # nothing new starts after a cancel
            total -= len(pending)
            pending = []
        elif pending:
            index = total - len(pending)
            spec = json.loads(row["spec"])
            # The first item's run holds the step's inputs: one probe of horae_runs_step
            # (its expression, so the lookup does not walk the step's other runs).
            first = self.tx.one("SELECT inputs FROM horae_runs WHERE parent_id = :p"
                                " AND step = :s AND COALESCE(shard_index, -1) = 0",
                                {"p": self.pid, "s": step})
            inputs = json.loads(first["inputs"]) if first and first["inputs"] else {}
            self.insert(step, spec, inputs, items=[(index, pending.pop(0))], total=total)
        items = R.dumps(pending) if pending else None
        if done >= total and not pending:
            self.set_step(step, engine.step_ended_state(outcome), done=done, total=total,
                          outcome=outcome, items=None)
            self.ended(step)
        else:
            self.set_step(step, "active", done=done, total=total, outcome=outcome, items=items)

    def ended(self, step: str) -> None:
        """A step ended: decide every successor that can now be decided, transitively."""
        self.step_ended = True
        todo = [step]
        while todo:
            for nxt in self.below[todo.pop(0)]:
                if self.consider(nxt):
                    todo.append(nxt)

    def consider(self, step_id: str) -> bool:
        """Decide ``step_id`` if it waits and its predecessors all ended; True when that
        ended it at once (skipped, failed or an empty map): its successors are next."""
        step = self.workflow.step(step_id)
        states = self.states([step_id, *step.after])
        if states.get(step_id) != "waiting":
            return False
        decision = engine.decide(step, states)
        if decision is None:
            return False
        if self.cancelled:
            self.set_step(step_id, "cancelled")
            return True
        if not decision.run:
            spec = json.loads(self.row(step_id)["spec"])
            self.insert(step_id, spec, {}, state="skipped", error=decision.reason)
            assert decision.state is not None
            self.set_step(step_id, decision.state, total=1, done=1)
            return True
        return self.start(step_id)

    def start(self, step_id: str) -> bool:
        """Insert the runs of a step about to start; True when it ended at once."""
        step = self.workflow.step(step_id)
        spec = json.loads(self.row(step_id)["spec"])
        inputs = self.results(step.after)
        if step.map is None:
            self.insert(step_id, spec, inputs)
            self.set_step(step_id, "active", total=1)
            return False
        items = engine.items_of(step, inputs)
        if isinstance(items, str):  # the upstream result is not a list: the step fails
            self.insert(step_id, spec, inputs, state="failed", error=items)
            self.set_step(step_id, "failed", total=1, done=1, outcome="failed")
            self.ended(step_id)
            return False
        if not items:
            self.set_step(step_id, "succeeded")
            self.ended(step_id)
            return False
        first = len(items) if step.concurrency is None else min(step.concurrency, len(items))
        self.insert(step_id, spec, inputs, items=list(enumerate(items[:first])),
                    total=len(items))
        rest = items[first:]
        self.set_step(step_id, "active", total=len(items),
                      items=R.dumps(rest) if rest else None)
        return False

    def finish(self) -> None:
        """After this transaction's transitions: progress, or settle once no step is open."""
        if self.queued:
            self.store._notify(self.tx, "horae_runs")
        if not self.step_ended:
            return
        states = self.states()
        steps = [s.id for s in self.workflow.steps]
        ended = sum(states[s] not in engine.OPEN for s in steps)
        if ended < len(steps):
            fraction, message = engine.progress(ended, len(steps))
            self.tx.run("UPDATE horae_runs SET progress = :f, progress_message = :m"
                        " WHERE id = :p", {"p": self.pid, "f": fraction, "m": message})
            return
        self.settle(states)

    def settle(self, states: dict[str, str]) -> None:
        state, error = engine.final_state(self.workflow, states, self.cancelled)
        result = None
        if state != "cancelled":
            result = self.results(engine.leaves(self.workflow))
        message = engine.progress(len(self.workflow.steps), len(self.workflow.steps))[1]
        row = self.tx.one(
            "UPDATE horae_runs SET state = :state, finished_at = :now, result = :result,"
            " error = :error, progress_message = :m,"
            " progress = CASE WHEN :ok = 1 THEN 1.0 ELSE progress END"
            f" WHERE id = :p AND state IN {ACTIVE_SQL} RETURNING schedule_id, origin",
            {"state": state, "now": self.now, "p": self.pid, "error": error, "m": message,
             "ok": int(state == "succeeded"),
             "result": None if result is None else R.dumps(result)})
        if row is None:
            return
        if row["schedule_id"] is not None:
            self.store._count_outcomes(self.tx, [(row["schedule_id"], state, row["origin"])],
                                       self.now)
        callbacks = [c for c in engine.callbacks_for(state) if c in states]
        if callbacks:
            everything = self.results([s.id for s in self.workflow.steps])
            for name in callbacks:
                self.insert(name, json.loads(self.row(name)["spec"]), everything)
            self.store._notify(self.tx, "horae_runs")
