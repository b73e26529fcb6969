"""``horae schedules backfill|backfills|backfill-cancel``: the plan first (count, first and
last fire; --dry-run every fire with its DST markers), a question unless --yes, audited;
bad input is one line naming the field and exit code 2."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from horae import Horae, cron
from horae.cli import cli
from horae.cli import schedules as schedules_cli
from horae.store.api_store import ApiStore

RANGE = ("--from", "2026-03-28T23:00:00Z", "--to", "2026-03-29T04:00:00Z")


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path}/h.db"
    app = Horae(url)
    app.task("job")(lambda: None)
    app.schedules.add("berlin", "job", cron("30 * * * *", "Europe/Berlin"))
    app.stop()
    yield url


def horae(url: str, *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["--db", url, "--color", "never", *args], input=input)


def backfills(url: str) -> list[dict[str, object]]:
    done = horae(url, "schedules", "backfills", "berlin", "--json")
    assert done.exit_code == 0, done.output
    return list(json.loads(done.stdout))


def test_dry_run_prints_every_fire_with_its_markers_and_starts_nothing(url: str) -> None:
    done = horae(url, "schedules", "backfill", "berlin", *RANGE, "--dry-run")
    assert done.exit_code == 0, done.output
    assert "6 fires of 'berlin'" in done.stdout and "6 to run" in done.stdout
    [shifted] = [line for line in done.stdout.splitlines() if "DST gap" in line]
    assert shifted.startswith("2026-03-29T01:00:00.000Z") and "03:00:00+02:00" in shifted
    as_json = json.loads(horae(url, "schedules", "backfill", "berlin", *RANGE, "--dry-run",
                               "--json").stdout)
    assert [f["markers"] for f in as_json["fires"]].count(["dst_gap_shifted"]) == 1
    assert backfills(url) == []


def test_a_backfill_asks_first_then_starts_and_is_audited(url: str,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setattr(schedules_cli, "stdin_is_tty", lambda: True)
    refused = horae(url, "schedules", "backfill", "berlin", *RANGE, input="n\n")
    assert refused.exit_code == 1 and "Start a backfill of 6 runs?" in refused.output
    assert "first 2026-03-28T23:30:00.000Z, last 2026-03-29T03:30:00.000Z" in refused.output
    assert backfills(url) == []

    done = horae(url, "schedules", "backfill", "berlin", *RANGE, "--concurrency", "2",
                 input="y\n")
    assert done.exit_code == 0, done.output
    assert "started backfill" in done.output
    [b] = backfills(url)
    assert (b["state"], b["total"], b["concurrency"]) == ("running", 6, 2)
    assert str(b["created_by"]).startswith("cli:")

    cancelled = horae(url, "schedules", "backfill-cancel", "berlin", str(b["id"]))
    assert cancelled.exit_code == 0, cancelled.output
    assert backfills(url)[0]["state"] == "cancelled"
    again = horae(url, "schedules", "backfill-cancel", "berlin", str(b["id"]))
    assert again.exit_code != 0 and "already ended" in again.output

    app = Horae(url)
    actions = [a.action for a in ApiStore(app.store).audit_list()]
    app.stop()
    assert sorted(actions) == ["schedule.backfill", "schedule.backfill_cancel"]


@pytest.mark.parametrize(("args", "field"), [
    (("--from", "yesterday", "--to", "2026-03-29T04:00:00Z"), "from"),
    (("--from", "2026-03-28T23:00:00Z", "--to", "2999-01-01T00:00:00Z"), "to"),
    (("--from", "2026-03-29T04:00:00Z", "--to", "2026-03-28T23:00:00Z"), "to"),
    ((*RANGE, "--concurrency", "0"), "concurrency"),
])
def test_bad_input_names_the_field_and_exits_2(url: str, args: tuple[str, ...],
                                               field: str) -> None:
    done = horae(url, "schedules", "backfill", "berlin", *args, "--yes")
    assert done.exit_code == 2, done.output
    [line] = done.output.strip().splitlines()
    assert line.startswith(f"error: {field}:") and "Traceback" not in done.output
    assert backfills(url) == []
