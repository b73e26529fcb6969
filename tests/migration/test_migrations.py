"""Migrations: every file applies once, in order, and yields the schema the code expects,
the same on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from horae.store import Store
from horae.store import api_store as A
from horae.store import auth_store as F
from horae.store import backfill_queries as B
from horae.store import channel_queries as CH
from horae.store import console_store as C
from horae.store import explain_queries as X
from horae.store import external_runs as EX
from horae.store import hook_queries as H
from horae.store import rows as R
from horae.store import user_store as U
from horae.store import workflow_queries as W
from horae.store import workflow_runs as WR
from tests.conftest import require_postgres

EXPECTED_COLUMNS = {
    "horae_schedules": set(R.SCHEDULE_COLUMNS),
    "horae_runs": set(R.RUN_COLUMNS) | set(EX.EXTERNAL_RUN_COLUMNS),
    "horae_run_logs": set(R.LOG_COLUMNS),
    "horae_run_attempts": set(R.ATTEMPT_COLUMNS),
    "horae_workers": set(R.WORKER_COLUMNS),
    "horae_tasks": set(R.TASK_COLUMNS),
    "horae_meta": {"key", "value"},
    "horae_schema_version": {"version"},
    "horae_api_tokens": set(A.TOKEN_COLUMNS),
    "horae_audit": set(A.AUDIT_COLUMNS),
    "horae_idempotency": set(A.IDEMPOTENCY_COLUMNS),
    "horae_events": set(A.EVENT_COLUMNS),
    "horae_console_secrets": set(C.SECRET_COLUMNS),
    "horae_console_sessions": set(C.SESSION_COLUMNS),
    "horae_users": set(U.USER_COLUMNS),
    "horae_auth_failures": set(F.AUTH_FAILURE_COLUMNS),
    "horae_workflows": set(W.WORKFLOW_COLUMNS),
    "horae_workflow_versions": set(W.WORKFLOW_VERSION_COLUMNS),
    "horae_consumers": set(H.CONSUMER_COLUMNS),
    "horae_workflow_steps": set(WR.STEP_COLUMNS),
    "horae_schedulers": set(X.SCHEDULER_COLUMNS),
    "horae_backfills": set(B.BACKFILL_COLUMNS),
    "horae_channels": set(CH.CHANNEL_COLUMNS),
}


# SQLite updates only the indexes whose columns an UPDATE changes; PostgreSQL writes every
# index of a row at each fire (next_fire_at is indexed, so no HOT update). Filters that
# PostgreSQL serves by reading the table have their index on SQLite only (0007).
SQLITE_ONLY_INDEXES = {("horae_schedules", "horae_schedules_task"),
                       ("horae_schedules", "horae_schedules_queue"),
                       ("horae_schedules", "horae_schedules_tags")}


def migration_versions(dialect: str) -> list[int]:
    folder = resources.files("horae.store.migrations").joinpath(dialect)
    return sorted(int(f.name.split("_", 1)[0]) for f in folder.iterdir()
                  if f.name.endswith(".sql"))


def test_both_dialects_have_the_same_numbered_migrations() -> None:
    sqlite, postgres = migration_versions("sqlite"), migration_versions("postgres")
    assert sqlite == postgres
    assert sqlite == list(range(1, len(sqlite) + 1)), "versions are 1, 2, 3... without gaps"


# -- introspection -------------------------------------------------------------------


def sqlite_schema(store: Store) -> dict[str, Any]:
    with store.db.read() as tx:
        tables = [r["name"] for r in tx.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE :prefix",
            {"prefix": "horae%"})]
        columns, uniques = {}, set()
        for t in tables:
            columns[t] = {r["name"]: bool(r["notnull"]) or bool(r["pk"])
                          for r in tx.all(f"PRAGMA table_info({t})")}
            for index in tx.all(f"PRAGMA index_list({t})"):
                # Keys only, as on PostgreSQL (pg_constraint): a CREATE UNIQUE INDEX
                # (origin 'c', e.g. 0014's expression index) is compared by its name.
                if index["unique"] and index["origin"] != "c":
                    cols = tuple(r["name"] for r in tx.all(f"PRAGMA index_info({index['name']})"))
                    uniques.add((t, cols))
            pk = tuple(r["name"] for r in sorted(tx.all(f"PRAGMA table_info({t})"),
                                                 key=lambda r: r["pk"]) if r["pk"])
            if pk:
                uniques.add((t, pk))
        indexes = {(r["tbl_name"], r["name"]) for r in tx.all(
            "SELECT tbl_name, name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    return {"columns": columns, "indexes": indexes, "uniques": uniques}


def postgres_schema(store: Store) -> dict[str, Any]:
    with store.db.read() as tx:
        rows = tx.all(
            "SELECT table_name, column_name, is_nullable FROM information_schema.columns"
            " WHERE table_schema = current_schema() AND table_name LIKE :prefix",
            {"prefix": "horae%"},
        )
        columns: dict[str, dict[str, bool]] = {}
        for r in rows:
            columns.setdefault(r["table_name"], {})[r["column_name"]] = r["is_nullable"] == "NO"
        indexes = {(r["tablename"], r["indexname"]) for r in tx.all(
            "SELECT i.tablename, i.indexname FROM pg_indexes i"
            " WHERE i.schemaname = current_schema() AND NOT EXISTS ("
            "  SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname"
            "  AND c.connamespace = (SELECT oid FROM pg_namespace WHERE nspname = i.schemaname))"
        )}
        uniques = set()
        for r in tx.all(
            "SELECT rel.relname AS t, array_agg(a.attname ORDER BY k.ord) AS cols"
            " FROM pg_constraint c JOIN pg_class rel ON rel.oid = c.conrelid"
            " CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, ord)"
            " JOIN pg_attribute a ON a.attrelid = rel.oid AND a.attnum = k.attnum"
            " WHERE c.contype IN ('p', 'u') AND rel.relnamespace = ("
            "  SELECT oid FROM pg_namespace WHERE nspname = current_schema())"
            " GROUP BY c.oid, rel.relname"
        ):
            uniques.add((r["t"], tuple(r["cols"])))
    return {"columns": columns, "indexes": indexes, "uniques": uniques}


def assert_migrates_once_to_the_expected_columns(store: Store, dialect: str) -> dict[str, Any]:
    versions = migration_versions(dialect)
    assert store.migrate() == len(versions)
    assert store.migrate() == 0
    with store.db.read() as tx:
        applied = [r["version"] for r in tx.all(
            "SELECT version FROM horae_schema_version ORDER BY version")]
    assert applied == versions
    schema = sqlite_schema(store) if dialect == "sqlite" else postgres_schema(store)
    assert {t: set(cols) for t, cols in schema["columns"].items()} == EXPECTED_COLUMNS
    assert ("horae_runs", ("schedule_id", "fire_time")) in schema["uniques"]
    return schema


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path}/fresh.db")
    yield store
    store.close()


@pytest.fixture
def postgres_store(pg_url: str) -> Iterator[Store]:
    store = Store(pg_url)
    yield store
    store.close()


def test_sqlite_migrates_once_to_the_schema_the_code_expects(sqlite_store: Store) -> None:
    assert_migrates_once_to_the_expected_columns(sqlite_store, "sqlite")
    assert Store(sqlite_store.db.url).migrate() == 0  # another process, later


@pytest.mark.postgres
def test_postgres_migrates_once_to_the_schema_the_code_expects(postgres_store: Store) -> None:
    require_postgres()
    assert_migrates_once_to_the_expected_columns(postgres_store, "postgres")


@pytest.mark.postgres
def test_sqlite_and_postgres_define_the_same_schema(
    sqlite_store: Store, postgres_store: Store
) -> None:
    require_postgres()
    lite = assert_migrates_once_to_the_expected_columns(sqlite_store, "sqlite")
    pg = assert_migrates_once_to_the_expected_columns(postgres_store, "postgres")
    assert lite["columns"] == pg["columns"], "same tables, columns and NOT NULL constraints"
    assert lite["indexes"] - SQLITE_ONLY_INDEXES == pg["indexes"], \
        "same index names on the same tables"
    assert lite["indexes"] >= SQLITE_ONLY_INDEXES
    assert lite["uniques"] == pg["uniques"], "same primary and unique keys"


def _migrate_concurrently(url: str, n: int = 4) -> list[int]:
    stores = [Store(url) for _ in range(n)]
    applied: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(n)

    def body(store: Store) -> None:
        try:
            start.wait()
            applied.append(store.migrate())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    for s in stores:
        s.close()
    if errors:
        raise errors[0]
    return sorted(applied)


def test_concurrent_migrators_apply_each_file_once_on_sqlite(tmp_path: Path) -> None:
    n = len(migration_versions("sqlite"))
    assert _migrate_concurrently(f"sqlite:///{tmp_path}/race.db") == [0, 0, 0, n]


@pytest.mark.postgres
def test_concurrent_migrators_apply_each_file_once_on_postgres(pg_url: str) -> None:
    n = len(migration_versions("postgres"))
    assert _migrate_concurrently(pg_url) == [0, 0, 0, n]
