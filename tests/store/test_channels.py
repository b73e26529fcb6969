"""Notification channels in the store: add, read, list, change with a version check,
remove, and secrets kept apart from every read model, on every backend."""

from __future__ import annotations

import pytest

from horae.errors import Conflict, NotFound
from horae.store import Store, on_change

CONFIG = {"url": "http://127.0.0.1:9/hook", "timeout": 5.0}
SECRETS = {"signing_secret": "s3cret-value"}


def test_add_then_get_round_trips_without_the_secret_values(store: Store) -> None:
    before = store.now()
    added = store.channel_add("ops", "webhook", CONFIG, SECRETS)
    got = store.channel_get(added.id)
    assert got == added == store.channel_by_name("ops")
    assert (got.name, got.kind, got.config, got.enabled, got.version) == \
        ("ops", "webhook", CONFIG, True, 1)
    assert got.secrets == {"signing_secret": True}
    assert "s3cret-value" not in repr(got) and "s3cret-value" not in str(got.to_dict())
    assert before - 1 <= got.created_at == got.updated_at <= store.now() + 1
    assert store.channel_secrets(got.id) == SECRETS


def test_a_secret_not_set_reads_as_not_set(store: Store) -> None:
    added = store.channel_add("plain", "webhook", CONFIG, {})
    assert added.secrets == {"signing_secret": False}
    assert store.channel_secrets(added.id) == {}


def test_duplicate_name_is_a_conflict_and_changes_nothing(store: Store) -> None:
    store.channel_add("ops", "webhook", CONFIG, SECRETS)
    with pytest.raises(Conflict):
        store.channel_add("ops", "slack", {"timeout": 1.0}, {"webhook_url": "http://x/y"})
    assert [c.kind for c in store.channel_list()] == ["webhook"]


def test_unknown_channel_is_not_found(store: Store) -> None:
    for call in (lambda: store.channel_get(404), lambda: store.channel_by_name("nope"),
                 lambda: store.channel_secrets(404), lambda: store.channel_delete(404)):
        with pytest.raises(NotFound):
            call()
    with pytest.raises(NotFound):
        store.channel_update(404, name="x", config={}, secrets={}, enabled=True)


def test_list_is_ordered_by_name_and_filters_by_kind(store: Store) -> None:
    store.channel_add("b", "webhook", CONFIG, {})
    store.channel_add("a", "slack", {"timeout": 1.0}, {"webhook_url": "http://x/y"})
    assert [c.name for c in store.channel_list()] == ["a", "b"]
    assert [c.name for c in store.channel_list(kind="slack")] == ["a"]


def test_update_writes_the_next_version_and_checks_the_expected_one(store: Store) -> None:
    ch = store.channel_add("ops", "webhook", CONFIG, SECRETS)
    changed = store.channel_update(ch.id, name="ops2", config=dict(CONFIG, timeout=9.0),
                                   secrets={}, enabled=False, expected_version=1)
    assert (changed.name, changed.config["timeout"], changed.enabled, changed.version) == \
        ("ops2", 9.0, False, 2)
    assert changed.secrets == {"signing_secret": False}
    assert store.channel_secrets(ch.id) == {}
    with pytest.raises(Conflict):
        store.channel_update(ch.id, name="ops3", config=CONFIG, secrets={}, enabled=True,
                             expected_version=1)
    assert store.channel_get(ch.id).name == "ops2"


def test_update_to_a_taken_name_is_a_conflict(store: Store) -> None:
    store.channel_add("a", "webhook", CONFIG, {})
    b = store.channel_add("b", "webhook", CONFIG, {})
    with pytest.raises(Conflict):
        store.channel_update(b.id, name="a", config=CONFIG, secrets={}, enabled=True)
    assert store.channel_get(b.id).version == 1


def test_delete_removes_and_checks_the_expected_version(store: Store) -> None:
    ch = store.channel_add("ops", "webhook", CONFIG, {})
    with pytest.raises(Conflict):
        store.channel_delete(ch.id, expected_version=7)
    store.channel_delete(ch.id, expected_version=1)
    with pytest.raises(NotFound):
        store.channel_get(ch.id)


def test_the_change_hook_sees_the_read_model_never_the_secrets(store: Store) -> None:
    seen: list[object] = []
    with on_change(lambda tx, result: seen.append(result)):
        ch = store.channel_add("ops", "webhook", CONFIG, SECRETS)
        store.channel_update(ch.id, name="ops", config=CONFIG, secrets={"signing_secret": "n3w"},
                             enabled=True)
        store.channel_delete(ch.id)
    assert len(seen) == 3 and seen[2] is None
    assert all("s3cret" not in repr(s) and "n3w" not in repr(s) for s in seen)


def test_a_failing_change_hook_rolls_the_change_back(store: Store) -> None:
    def boom(tx: object, result: object) -> None:
        raise RuntimeError("audit failed")

    with on_change(boom), pytest.raises(RuntimeError):
        store.channel_add("ops", "webhook", CONFIG, {})
    assert store.channel_list() == []


def _rename_together(store: Store, ids: list[int], target: str) -> list[str]:
    """Rename each channel of ``ids`` to ``target`` at the same moment; each outcome."""
    import threading

    barrier, outcomes = threading.Barrier(len(ids)), []

    def rename(channel_id: int) -> None:
        barrier.wait()
        try:
            store.channel_update(channel_id, name=target, config=CONFIG, secrets={},
                                 enabled=True)
            outcomes.append("renamed")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=rename, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return outcomes


def test_two_renames_to_one_name_at_once_give_one_conflict(store: Store) -> None:
    for round_ in range(5):
        a = store.channel_add(f"a{round_}", "webhook", CONFIG, {})
        b = store.channel_add(f"b{round_}", "webhook", CONFIG, {})
        assert sorted(_rename_together(store, [a.id, b.id], f"same{round_}")) == [
            "conflict", "renamed"]
