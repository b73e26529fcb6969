"""Time windows over runs read the primary key where the window starts (the store turns
them into id ranges by bisecting creation times); the answer must equal a plain filter,
with gaps in the ids and creation times slightly out of id order."""

from __future__ import annotations

import random

import pytest

from horae.store import RunFilter, Store
from tests.store.support import add_runs

DAY = 86400.0


@pytest.fixture
def history(store: Store) -> list[dict[str, float]]:
    """120 runs created a day apart (with up to a minute of disorder), each finished
    between a minute and two days after its creation; every seventh deleted."""
    runs = add_runs(store, 120)
    rng = random.Random(7)
    base = store.now() - 130 * DAY
    rows = []
    with store.db.write() as tx:
        for i, run in enumerate(runs):
            created = base + i * DAY + rng.uniform(-60, 60)
            finished = created + rng.uniform(60, 2 * DAY)
            tx.run("UPDATE horae_runs SET created_at = :c, finished_at = :f, state = 'succeeded'"
                   " WHERE id = :id", {"c": created, "f": finished, "id": run.id})
            rows.append({"id": run.id, "created": created, "finished": finished})
        gone = [r["id"] for r in rows[::7]]
        tx.run(f"DELETE FROM horae_runs WHERE {store.db.in_list('id', 'ids')}",
               {"ids": store.db.list_param(gone)})
    return [r for r in rows if r["id"] not in gone]


def expected(rows: list[dict[str, float]], **w: float | None) -> list[int]:
    def inside(value: float, since: float | None, until: float | None) -> bool:
        return (since is None or value >= since) and (until is None or value < until)

    return sorted((r["id"] for r in rows
                   if inside(r["created"], w.get("since"), w.get("until"))
                   and inside(r["finished"], w.get("finished_since"), w.get("finished_until"))),
                  reverse=True)


def test_windows_equal_a_plain_filter(store: Store, history: list[dict[str, float]]) -> None:
    first = min(r["created"] for r in history)
    rng = random.Random(11)
    windows = [{"since": first - DAY}, {"until": first + 0.5}, {"until": first - DAY}]
    for _ in range(40):
        a = first + rng.uniform(-5, 125) * DAY
        b = a + rng.choice([60.0, 3600.0, DAY, 10 * DAY, 200 * DAY])
        key = rng.choice(["created", "finished", "both"])
        w: dict[str, float] = {}
        if key in ("created", "both"):
            w |= {"since": a, "until": b}
        if key in ("finished", "both"):
            w |= {"finished_since": a - DAY, "finished_until": b}
        windows.append(w)
    for w in windows:
        got = [r.id for r in store.run_list(RunFilter(limit=1000, **w))]
        assert got == expected(history, **w), w


def test_a_window_pages_backwards_with_the_cursor(store: Store,
                                                   history: list[dict[str, float]]) -> None:
    first = min(r["created"] for r in history)
    w = {"since": first + 10 * DAY, "until": first + 60 * DAY}
    want = expected(history, **w)
    got: list[int] = []
    before = None
    while True:
        page = store.run_list(RunFilter(limit=7, before_id=before, **w))
        got += [r.id for r in page]
        if len(page) < 7:
            break
        before = page[-1].id
    assert got == want and len(want) > 7
