"""``horae runs prune``: what it deletes, what --dry-run only counts, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae.cli import cli
from horae.models import LogLine, RunState
from horae.store import NewRun, Store

DAY = 86400.0


@pytest.fixture(params=["sqlite-file", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite-file":
        return f"sqlite:///{tmp_path}/h.db"
    pg: str = request.getfixturevalue("pg_url")
    return pg


def horae(url: str | None, *args: str) -> Result:
    argv = (["--db", url] if url else []) + list(args)
    return CliRunner().invoke(cli, argv, catch_exceptions=True)


def arrange(url: str) -> tuple[list[int], list[int], int]:
    """Five runs finished ten days ago and two finished now, each with a log line; and
    how many events the old ones made (ten days ago too)."""
    store = Store(url)
    store.migrate()
    runs = store.runs_add([NewRun(task="job") for _ in range(7)])
    for run in store.runs_claim("w", ["default"], 7, 30):
        store.run_finish(run, "w", RunState.SUCCEEDED,
                         logs=[LogLine(run.id, store.now(), "INFO", "hi")])
    old, recent = [r.id for r in runs[:5]], [r.id for r in runs[5:]]
    with store.db.write() as tx:
        params = {"ids": store.db.list_param(old)}
        tx.run(f"UPDATE horae_runs SET finished_at = finished_at - {10 * DAY}"
               f" WHERE {store.db.in_list('id', 'ids')}", params)
        events = tx.run(f"UPDATE horae_events SET ts = ts - {10 * DAY}"
                        f" WHERE {store.db.in_list('run_id', 'ids')}", params)
    store.close()
    return old, recent, events


def run_ids(url: str) -> set[int]:
    store = Store(url)
    try:
        return {r.id for r in store.run_list()}
    finally:
        store.close()


def test_dry_run_counts_and_changes_nothing_then_prune_deletes(url: str) -> None:
    old, recent, events = arrange(url)
    dry = horae(url, "runs", "prune", "--older-than", "7d", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    counted = json.loads(dry.stdout)
    assert (counted["runs"], counted["logs"], counted["dry_run"]) == (5, 5, True)
    assert counted["events"] == events >= 5 * 3  # queued, running, succeeded, log...
    assert run_ids(url) == set(old) | set(recent)

    done = horae(url, "runs", "prune", "--older-than", "7d")
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("deleted 5 runs, 5 log lines and ")
    assert run_ids(url) == set(recent)
    again = json.loads(horae(url, "runs", "prune", "--older-than", "7d", "--json").stdout)
    assert (again["runs"], again["logs"], again["events"]) == (0, 0, 0)


def test_keep_per_schedule_and_the_default_age_come_from_the_settings(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _, recent, _ = arrange(url)
    monkeypatch.setenv("HORAE_RUNS_KEEP_DAYS", "12")
    out = json.loads(horae(url, "runs", "prune", "--dry-run", "--json",
                           "--keep-per-schedule", "4").stdout)
    assert (out["runs"], out["older_than"], out["keep_per_schedule"]) == (0, 12 * DAY, 4)
    monkeypatch.setenv("HORAE_RUNS_KEEP_DAYS", "9")
    assert json.loads(horae(url, "runs", "prune", "--json").stdout)["runs"] == 5
    assert run_ids(url) == set(recent)


def test_bad_input_and_remote_use_are_refused_with_a_reason(
        url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for args, field in ((["--older-than", "soon"], "older-than"),
                        (["--older-than", "0"], "older-than")):
        result = horae(url, "runs", "prune", *args)
        assert result.exit_code == 2
        assert result.stderr.startswith(f"error: {field}: ")
    monkeypatch.setenv("HORAE_RUNS_KEEP_DAYS", "0")
    result = horae(url, "runs", "prune")
    assert result.exit_code == 2 and "runs_keep_days setting is 0" in result.stderr
    monkeypatch.setenv("HORAE_RUNS_KEEP_DAYS", "a month")
    result = horae(url, "runs", "prune", "--older-than", "1d")
    assert result.exit_code == 2 and "runs_keep_days: 'a month' is not a number" in result.stderr
    result = horae(None, "--url", "http://127.0.0.1:9", "runs", "prune", "--dry-run")
    assert result.exit_code == 2
    assert "needs direct database access" in result.stderr
