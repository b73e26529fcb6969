"""run_list(RunFilter(parent_id=...)): the children of a broadcast or shard parent."""

from __future__ import annotations

from horae.models import WorkerInfo
from horae.store import NewRun, RunFilter, Store
from tests.store.support import add_runs


def test_the_parent_filter_lists_exactly_that_parents_children(store: Store) -> None:
    for name in ("w1", "w2", "w3"):
        store.worker_register(WorkerInfo(name, "host", 1, ["default"], 1))
    [shard] = store.runs_add([NewRun(task="job", fanout="shard", shard_total=2)])
    [broadcast] = store.runs_add([NewRun(task="job", fanout="broadcast")])
    [other] = add_runs(store, task="job")
    assert store.runs_expand() == 5

    shard_children = store.run_list(RunFilter(parent_id=shard.id))
    broadcast_children = store.run_list(RunFilter(parent_id=broadcast.id))
    assert sorted(r.shard_index or 0 for r in shard_children) == [0, 1]
    assert {r.target_worker for r in broadcast_children} == {"w1", "w2", "w3"}
    assert all(r.parent_id == shard.id for r in shard_children)
    assert all(r.parent_id == broadcast.id for r in broadcast_children)
    everything = {r.id for r in store.run_list(RunFilter(limit=100))}
    assert everything == {shard.id, broadcast.id, other.id,
                          *(r.id for r in shard_children + broadcast_children)}

    # newest first, paged and combined with the other filters like any list
    ids = [r.id for r in broadcast_children]
    assert ids == sorted(ids, reverse=True)
    page = store.run_list(RunFilter(parent_id=broadcast.id, limit=2))
    rest = store.run_list(RunFilter(parent_id=broadcast.id, before_id=page[-1].id))
    assert [r.id for r in page + rest] == ids
    assert store.run_list(RunFilter(parent_id=broadcast.id, states=["succeeded"])) == []
    assert store.run_list(RunFilter(parent_id=other.id)) == []  # no children
    assert store.run_list(RunFilter(parent_id=10**12)) == []
