"""PostgreSQL change notices go out after commit, off the writer's transaction, and a
burst of them is coalesced: writers never take the server's notify lock at commit."""

from __future__ import annotations

import psycopg
import pytest

from horae.store import Store
from horae.store.connection import Tx
from tests.conftest import eventually
from tests.store.support import schedule

pytestmark = pytest.mark.postgres



def test_a_schedule_write_notifies_listeners_after_its_commit(pg_store: Store,
                                                              pg_url: str) -> None:
    listener = psycopg.connect(pg_url, autocommit=True)
    try:
        listener.execute("LISTEN horae_schedules")
        # The write itself runs no NOTIFY: a transaction that did would hold PostgreSQL's
        # notify lock at commit. Watch the statements the writer's connection sends.
        sent: list[str] = []
        tx_run = Tx.run

        def spy(self: object, sql: str, params: object = None) -> int:
            sent.append(sql)
            return tx_run(self, sql, params)  # type: ignore[arg-type]

        Tx.run = spy  # type: ignore[method-assign]
        try:
            pg_store.schedule_add(schedule("n1", next_fire_at=pg_store.now() + 60))
        finally:
            Tx.run = tx_run  # type: ignore[method-assign]
        assert sent and not [s for s in sent if "NOTIFY" in s.upper()], sent
        heard = eventually(lambda: list(listener.notifies(timeout=0.2, stop_after=1)))
        assert heard[0].channel == "horae_schedules"
    finally:
        listener.close()


def test_a_burst_of_writes_is_announced_in_fewer_rounds(pg_store: Store, pg_url: str) -> None:
    notices = pg_store.db.notices  # type: ignore[attr-defined]
    before = notices.sent
    for i in range(200):
        notices.send(["horae_schedules"])
        if i == 0:
            eventually(lambda: notices.sent > before)  # the thread is up and busy
    eventually(lambda: not notices._pending)
    rounds = notices.sent - before
    assert 1 <= rounds < 200
