"""Idempotency keys are forgotten after 24 hours: each new key removes a bounded batch of
expired ones, and ``idempotency_prune`` takes an explicit ``now``. Times come from the
database's clock; nothing sleeps. On every backend."""

from __future__ import annotations

from horae.store.api_store import IDEMPOTENCY_TTL, PRUNE_BATCH
from tests.api.conftest import Clients

DAY = IDEMPOTENCY_TTL


def _age_keys(c: Clients, actor: str, count: int, age: float, prefix: str) -> float:
    """Keys ``<prefix>0..`` created ``age + i`` seconds before the database's now."""
    now = c.horae.store.now()
    with c.horae.store.db.write() as tx:
        tx.many("INSERT INTO horae_idempotency (actor, key, fingerprint, status, body,"
                " created_at) VALUES (:actor, :key, 'f', 201, '{}', :at)",
                [{"actor": actor, "key": f"{prefix}{i}", "at": now - age - i}
                 for i in range(count)])
    return now


def _keys(c: Clients) -> set[str]:
    with c.horae.store.db.read() as tx:
        return {r["key"] for r in tx.all("SELECT key FROM horae_idempotency")}


def test_a_new_key_removes_a_bounded_batch_of_expired_ones(clients: Clients) -> None:
    _age_keys(clients, "someone", PRUNE_BATCH + 20, DAY + 60, "old")
    _age_keys(clients, "someone", 5, DAY - 3600, "recent")
    body = {"task": "scan", "kwargs": {"targets": ["a"]}}
    r = clients["operator"].post("/api/v1/runs", json=body, headers={"Idempotency-Key": "n"})
    assert r.status_code == 201
    left = _keys(clients)
    # The oldest batch went (any actor's), the newest expired ones wait for the next key.
    assert {f"old{i}" for i in range(20)} <= left
    assert not {f"old{i}" for i in range(20, PRUNE_BATCH + 20)} & left
    assert {f"recent{i}" for i in range(5)} | {"n"} <= left
    clients["operator"].post("/api/v1/runs", json=body, headers={"Idempotency-Key": "m"})
    assert not any(k.startswith("old") for k in _keys(clients))
    assert {f"recent{i}" for i in range(5)} <= _keys(clients)


def test_prune_with_an_explicit_now_and_batch(clients: Clients) -> None:
    base = _age_keys(clients, "a", 10, 0, "k")  # k<i> created i seconds before base
    assert clients.store.idempotency_prune(now=base) == 0
    # A day and 5.5 s after base, k6..k9 are expired; a batch of 3 takes the oldest three.
    assert clients.store.idempotency_prune(now=base + DAY - 5.5, batch=3) == 3
    assert _keys(clients) == {f"k{i}" for i in range(7)}
    assert clients.store.idempotency_prune(now=base + DAY - 5.5) == 1
    assert _keys(clients) == {f"k{i}" for i in range(6)}
    assert clients.store.idempotency_prune(now=base + 2 * DAY) == 6
    assert _keys(clients) == set()
