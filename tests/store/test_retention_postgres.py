"""PostgreSQL: a prune holds row locks on the finished runs it deletes, and nothing else,
so fire passes, outcomes and other prunes never wait for it.

The prune's transaction is held open (its rows chosen and deleted, not yet committed)
while the other writers work on their own connections, each with a deadline.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from horae.models import RunState
from horae.store import Store
from tests.conftest import require_postgres
from tests.store.support import add_due, add_runs, backdate, make_due, planner

pytestmark = pytest.mark.postgres
DAY = 86400.0


@pytest.fixture
def stores(pg_url: str) -> Iterator[tuple[Store, Store]]:
    require_postgres()
    a, b = Store(pg_url), Store(pg_url)  # two processes' worth of connections
    a.migrate()
    yield a, b
    a.close()
    b.close()


def within(seconds: float, work: Callable[[], Any]) -> Any:
    """``work()`` in a thread; fails if it has not finished within ``seconds`` (blocked)."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked behind the open prune transaction"
    assert out, "the work raised"
    return out[0]


def finish_claimed(store: Store) -> int:
    claimed = store.runs_claim("w", ["default"], 100, 30)
    for run in claimed:
        assert store.run_finish(run, "w", RunState.SUCCEEDED)
    return len(claimed)


def test_an_open_prune_does_not_block_fires_outcomes_or_another_prune(
        stores: tuple[Store, Store]) -> None:
    pruner, other = stores
    for i in range(5):  # schedules with old finished fires, which the prune deletes
        add_due(pruner, f"s{i}")
    pruner.schedules_fire_due(planner)
    assert finish_claimed(pruner) == 5
    old = add_runs(pruner, 40)
    finish_claimed(pruner)
    with pruner.db.read() as tx:
        every = [int(r["id"]) for r in tx.all("SELECT id FROM horae_runs")]
    backdate(pruner, every, 2 * DAY)

    with pruner.db.write() as tx:  # a prune, stopped before its commit
        chosen, _ = pruner._choose(tx, DAY, 0, 20, None, lock=True)
        assert len(chosen) == 20
        assert pruner._delete_runs(tx, chosen).runs == 20

        # A fire pass of the same schedules commits, and so do the outcomes of its runs.
        for i in range(5):
            make_due(other, f"s{i}")
        fired = within(10, lambda: other.schedules_fire_due(planner))
        assert fired.runs_queued == 5
        assert within(10, lambda: finish_claimed(other)) == 5
        # A second prune skips the locked rows and deletes the others, without waiting.
        second = within(10, lambda: other.runs_prune_batch(DAY, batch=1000))
        assert second.runs == 5 + 40 - 20
    left = {r.id for r in other.run_list()}
    assert not left & {r.id for r in old}  # between them, every old run went once
    assert len(left) == 5  # the new fires, recent
