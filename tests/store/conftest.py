from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae.store import Store


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[Store]:
    """A migrated store on a fresh PostgreSQL schema (tests marked ``postgres``)."""
    s = Store(pg_url)
    s.migrate()
    yield s
    s.close()
