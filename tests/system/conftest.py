from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(params=["sqlite-file", pytest.param("postgres", marks=pytest.mark.postgres)])
def shared_db_url(request: pytest.FixtureRequest, tmp_path: Any) -> str:
    """A database several processes can share."""
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path}/horae.db"
    url: str = request.getfixturevalue("pg_url")
    return url
