"""Every change made through the API writes its audit record in the change's own
transaction: when the audit record cannot be written, the change does not happen; when the
transaction fails at commit, neither exists. On every backend, with real database triggers
forcing the failures."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from horae import Horae
from horae.store import Store, on_change
from horae.store.connection import SQLiteDatabase
from tests.api.apps import register
from tests.api.conftest import Clients, snapshot
from tests.api.test_authz import BUILDERS, EXPECTED, SUCCESS

MUTATING = sorted(op for op in EXPECTED if op in SUCCESS or op in {
    "patchSchedule", "replaceSchedule", "batchSchedules", "pauseSchedule", "resumeSchedule",
    "cancelRun", "revokeToken", "patchUser", "disableUser", "setUserPassword"})


def _sql(store: Store, statements: list[str]) -> None:
    with store.db.write() as tx:
        for statement in statements:
            tx.run(statement)


def refuse_audit_inserts(store: Store) -> None:
    """A trigger that makes every audit insert fail at once."""
    if store.dialect == "sqlite":
        _sql(store, ["CREATE TRIGGER test_refuse_audit BEFORE INSERT ON horae_audit"
                     " BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END"])
    else:
        _sql(store, [
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'refused by the test'; END $$",
            "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON horae_audit"
            " FOR EACH ROW EXECUTE FUNCTION test_refuse()",
        ])


def fail_commits_that_audit(store: Store) -> None:
    """Audit inserts succeed, but the transaction that made one fails at COMMIT."""
    if store.dialect == "sqlite":
        # A deferred foreign key is checked at COMMIT (connections enable foreign keys).
        _sql(store, [
            "CREATE TABLE test_parent (id INTEGER PRIMARY KEY)",
            "CREATE TABLE test_orphan (parent INTEGER REFERENCES test_parent (id)"
            " DEFERRABLE INITIALLY DEFERRED)",
            "CREATE TRIGGER test_doom AFTER INSERT ON horae_audit"
            " BEGIN INSERT INTO test_orphan (parent) VALUES (1); END",
        ])
    else:
        _sql(store, [
            "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'refused at commit by the test'; END $$",
            "CREATE CONSTRAINT TRIGGER test_doom AFTER INSERT ON horae_audit"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse()",
        ])


@pytest.fixture
def foreign_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = SQLiteDatabase._connect

    def with_foreign_keys(self: SQLiteDatabase) -> Any:
        conn = connect(self)
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    monkeypatch.setattr(SQLiteDatabase, "_connect", with_foreign_keys)


@pytest.fixture
def fresh(database_url: str, foreign_keys: None) -> Iterator[Clients]:
    app = register(Horae(database_url))
    yield Clients(app)
    app.stop()


def _events(c: Clients) -> int:
    return c.store.events_last_id()


@pytest.mark.parametrize("operation", MUTATING)
def test_a_change_whose_audit_record_fails_does_not_happen(fresh: Clients,
                                                           operation: str) -> None:
    method, path, body = BUILDERS[operation](fresh)  # its target exists before the refusal
    refuse_audit_inserts(fresh.horae.store)
    before, events = snapshot(fresh.horae), _events(fresh)
    response = fresh["admin"].request(method, path, json=body)
    assert response.status_code == 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert snapshot(fresh.horae) == before, f"{operation} changed something without audit"
    assert _events(fresh) == events, "no event of a change that rolled back"


@pytest.mark.parametrize("operation", ["createSchedule", "cancelRun", "createUser",
                                       "revokeToken", "triggerSchedule"])
def test_a_failed_commit_leaves_neither_the_change_nor_its_audit(fresh: Clients,
                                                                 operation: str) -> None:
    method, path, body = BUILDERS[operation](fresh)
    fail_commits_that_audit(fresh.horae.store)
    before = snapshot(fresh.horae)
    response = fresh["admin"].request(method, path, json=body)
    assert response.status_code == 500, response.text
    assert snapshot(fresh.horae) == before
    # The connection is usable afterwards: reads and writes without audit go on.
    assert fresh["admin"].get("/api/v1/schedules").status_code == 200
    fresh.horae.schedules.add("after", "scan", {"kind": "interval", "seconds": 60},
                              kwargs={"targets": ["a"]})
    assert fresh.horae.schedules.get("after").version == 1


def test_each_successful_change_writes_exactly_one_audit_record(fresh: Clients) -> None:
    for operation in MUTATING:
        method, path, body = BUILDERS[operation](fresh)
        before = len(fresh.store.audit_list(limit=10_000))
        response = fresh["admin"].request(method, path, json=body)
        assert response.status_code < 300, (operation, response.text)
        records = fresh.store.audit_list(limit=10_000)
        assert len(records) == before + 1, operation
        assert records[0].actor == fresh.tokens["admin"].split("_")[1]


def test_embedders_can_hook_their_own_writes_into_a_change(fresh: Clients) -> None:
    """The Python API is unchanged; ``on_change`` runs inside the change's transaction."""
    seen: list[Any] = []

    def hook(tx: Any, result: Any) -> None:
        seen.append(result.id)
        raise RuntimeError("veto")

    with on_change(hook), pytest.raises(RuntimeError):
        fresh.horae.schedules.add("vetoed", "scan", {"kind": "interval", "seconds": 60},
                                  kwargs={"targets": ["a"]})
    assert seen == ["vetoed"]
    assert fresh.horae.schedules.list() == []
    fresh.horae.schedules.add("kept", "scan", {"kind": "interval", "seconds": 60},
                              kwargs={"targets": ["a"]})  # outside the block: no hook
    assert [s.id for s in fresh.horae.schedules.list()] == ["kept"]
