"""The audit of changes made from the command line, in each change's own transaction.

Through the database the CLI writes the audit record itself, as the REST API does
(``horae.store.on_change``): the actor is ``cli:<OS user>``. Through a server (``--url``)
the server audits the change under the token's name, so nothing is written here.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from horae.cli.env import Env


def cli_actor() -> str:
    """``cli:<login name>``; the uid when the name cannot be found (no $USER, no passwd
    entry, as in some containers): an actor must name someone, never ``cli:?``."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):  # getpass falls back to the passwd entry, which may be absent
        name = ""
    return f"cli:{name or f'uid {os.getuid()}'}"


@contextmanager
def audited(env: Env, action: str, kind: str, *, target: Any = None, before: Any = None,
            after: Callable[[Any], Any] | None = None) -> Iterator[None]:
    """Audit the change the block makes through the database, inside its transaction
    (``target``: a value, or a function of the store's result; ``before``: the record
    before, or a function that reads it, called only when this process audits; ``after``:
    the record after the change, from that result). The audit commits with the change or
    not at all."""
    if env.remote_url is not None:
        yield  # the server audits it, under the token's name
        return
    from horae.store import on_change
    from horae.store.api_store import ApiStore

    store = ApiStore(env.app().store)
    actor = cli_actor()
    if callable(before):
        before = before()

    def write(tx: Any, result: Any) -> None:
        target_id = target(result) if callable(target) else target
        store.audit_in(tx, actor=actor, role="admin", action=action, target_kind=kind,
                       target_id=None if target_id is None else str(target_id),
                       before=before, after=None if after is None else after(result))

    with on_change(write):
        yield


@contextmanager
def audited_batch(env: Env) -> Iterator[None]:
    """Audit each schedule a batch (``schedules apply``) changes, one record each, in the
    batch's transaction, as ``POST /schedules:batch`` does."""
    if env.remote_url is not None:
        yield  # the server audits it, under the token's name
        return
    from horae.api.schemas import schedule_wire
    from horae.store import on_change
    from horae.store.api_store import ApiStore
    from horae.store.schedule_batch import SchedulesChanged

    store = ApiStore(env.app().store)
    actor = cli_actor()
    actions = {"insert": "schedule.create", "replace": "schedule.update",
               "delete": "schedule.delete"}

    def write(tx: Any, result: Any) -> None:
        if isinstance(result, SchedulesChanged):
            store.audit_many(tx, actor=actor, role="admin", target_kind="schedule", records=[
                (actions[w.kind], w.id, None if w.before is None else schedule_wire(w.before),
                 None if after is None else schedule_wire(after))
                for w, after in result.changes])

    with on_change(write):
        yield
