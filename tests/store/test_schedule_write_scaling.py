"""PostgreSQL: schedule writes from several connections do not wait for each other.

Every schedule write used to bump one counter row (``horae_meta.schedules_changed``), so a
write whose transaction was still open held every other process's schedule writes behind
it. Four writers here, each on its own connection: one holds an update's transaction open
(the store's change hook runs inside it, before it commits) while the three others
create, update and delete schedules; theirs must commit meanwhile.
"""

from __future__ import annotations

import threading
import time

import pytest

from horae.store import Store, on_change
from horae.store.connection import Tx
from tests.store.support import schedule

pytestmark = pytest.mark.postgres



def test_three_writers_commit_while_a_fourth_holds_a_schedule_update_open(
        pg_store: Store) -> None:
    pg_store.schedule_add(schedule("held"))
    for w in range(3):
        pg_store.schedule_add(schedule(f"w{w}-old"))
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def hold(tx: Tx, result: object) -> None:
        holding.set()
        release.wait(30)

    def held_writer() -> None:
        try:
            with on_change(hold):
                s = pg_store.schedule_get("held")
                s.description = "changed in a long transaction"
                pg_store.schedule_replace(s)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    done = [threading.Event() for _ in range(3)]

    def writer(w: int) -> None:
        try:
            for i in range(5):
                pg_store.schedule_add(schedule(f"w{w}-{i}"))
            s = pg_store.schedule_get(f"w{w}-0")
            s.description = "updated"
            pg_store.schedule_replace(s)
            pg_store.schedule_delete(f"w{w}-old")
            done[w].set()
        except BaseException as exc:
            errors.append(exc)

    holder = threading.Thread(target=held_writer)
    writers = [threading.Thread(target=writer, args=(w,)) for w in range(3)]
    holder.start()
    try:
        assert holding.wait(10), errors
        for t in writers:
            t.start()
        # Each writer is a separate connection (the store keeps one per thread). On a
        # shared counter row they would wait for the held transaction until it ends.
        deadline = time.monotonic() + 10
        finished = [d.wait(max(0.0, deadline - time.monotonic())) for d in done]
        assert finished == [True, True, True], (
            "schedule writes waited for another process's open transaction", errors)
        assert holder.is_alive() and not release.is_set()  # still held while they committed
        assert pg_store.schedule_get("held").description == ""  # not committed yet
    finally:
        release.set()
        holder.join(30)
        for t in writers:
            if t.ident is not None:
                t.join(30)
    assert not errors, errors
    assert pg_store.schedule_get("held").description == "changed in a long transaction"
    ids = {s.id for s in pg_store.schedule_list(limit=100)}
    assert ids == {"held"} | {f"w{w}-{i}" for w in range(3) for i in range(5)}
    assert {pg_store.schedule_get(f"w{w}-0").description for w in range(3)} == {"updated"}
