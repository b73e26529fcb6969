"""The CLI keeps the zone a one-off was scheduled in, and shows its time in that zone."""

from __future__ import annotations

import pytest

from tests.system.test_cli import Horae_, catalogue, horae, url  # noqa: F401 (fixtures)

SHANGHAI = {"kind": "date", "at": 1906506000.0, "tz": "Asia/Shanghai"}  # 2030-06-01 01:00 UTC


@pytest.mark.usefixtures("catalogue")
def test_a_one_off_in_a_zone_is_kept_and_shown_in_it(horae: Horae_) -> None:  # noqa: F811
    added = horae.json("schedules", "add", "once", "--task", "demo.hello",
                       "--at", "2030-06-01T09:00", "--tz", "Asia/Shanghai")
    assert added["trigger"] == SHANGHAI
    assert added["trigger_description"] == "Once at 2030-06-01 09:00:00 (Asia/Shanghai)"
    shown = horae.json("schedules", "show", "once")
    assert shown["zone"] == "Asia/Shanghai"
    assert shown["next_fires"] == [{"utc": "2030-06-01T01:00:00.000Z",
                                    "local": "2030-06-01T09:00:00+08:00"}]
    people = horae.ok("schedules", "show", "once").stdout
    assert "Once at 2030-06-01 09:00:00 (Asia/Shanghai)" in people
    assert "2030-06-01T01:00:00.000Z = 2030-06-01T09:00:00+08:00" in people
    listed = horae.ok("schedules", "list").stdout
    assert "(Asia/Shanghai)" in listed


@pytest.mark.usefixtures("catalogue")
def test_tz_alone_shows_a_one_off_in_another_zone_at_the_same_instant(horae: Horae_) -> None:  # noqa: F811
    horae.ok("schedules", "add", "once", "--task", "demo.hello",
             "--at", "2030-06-01T09:00", "--tz", "Asia/Shanghai")
    edited = horae.json("schedules", "edit", "once", "--tz", "Europe/Berlin")
    assert edited["trigger"] == SHANGHAI | {"tz": "Europe/Berlin"}
    assert edited["trigger_description"] == "Once at 2030-06-01 03:00:00 (Europe/Berlin)"
    refused = horae("schedules", "edit", "once", "--tz", "Mars/Base")
    assert refused.exit_code != 0
    assert "Mars/Base" in refused.output + refused.stderr
    assert horae.json("schedules", "show", "once")["trigger"]["tz"] == "Europe/Berlin"
