"""GET /api/v1/schedules/{id}/explain: the verdict for an instant, or the last and next fire,
with the reason in the request's language; a bad ``at`` is a 422 naming it."""

from __future__ import annotations

from horae.instants import iso
from tests.api.conftest import Clients


def _add(clients: Clients, sid: str, **extra: object) -> None:
    clients.horae.schedules.add(sid, "scan", {"kind": "cron", "expr": "0 2 * * *",
                                              "tz": "UTC"}, kwargs={"targets": ["a"]}, **extra)


def test_explain_answers_for_an_instant_and_for_the_last_and_next_fire(
        clients: Clients) -> None:
    _add(clients, "nightly")
    viewer = clients["viewer"]
    s = clients.horae.schedules.get("nightly")
    assert s.next_fire_at is not None
    reply = viewer.get("/api/v1/schedules/nightly/explain",
                       params={"at": iso(s.next_fire_at + 86400)})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    [answer] = body["explanations"]
    assert (answer["label"], answer["verdict"]) == ("at", "will_fire")
    assert answer["instant"].endswith("T02:00:00.000Z")
    assert answer["reason"].startswith("will fire at")
    both = viewer.get("/api/v1/schedules/nightly/explain").json()["explanations"]
    assert [a["label"] for a in both][-1] == "next"
    assert both[-1]["instant"] == iso(s.next_fire_at)
    off = viewer.get("/api/v1/schedules/nightly/explain",
                     params={"at": answer["instant"].replace("02:00:00", "03:00:00")}).json()
    assert off["explanations"][0]["verdict"] == "not_a_fire_time"


def test_the_reason_comes_in_the_requested_language(clients: Clients) -> None:
    _add(clients, "quiet", paused=True)
    viewer = clients["viewer"]
    zh = viewer.get("/api/v1/schedules/quiet/explain", params={"at": "+1d"},
                    headers={"Accept-Language": "zh-CN"}).json()["explanations"][0]
    assert (zh["verdict"], zh["reason"]) == ("will_not_fire", "不会触发：该计划已暂停")
    assert zh["code"] == "explain.will_not_fire_paused"
    assert zh["details"] == {"why": "paused"}
    en = viewer.get("/api/v1/schedules/quiet/explain", params={"at": "+1d", "locale": "en"},
                    headers={"Accept-Language": "zh-CN"}).json()["explanations"][0]
    assert en["reason"] == "will not fire: the schedule is paused"


def test_a_bad_instant_is_a_422_naming_at_and_an_unknown_schedule_a_404(
        clients: Clients) -> None:
    _add(clients, "nightly")
    viewer = clients["viewer"]
    for bad in ("yesterday", "2026-12-01T09:00:00", "-1x"):
        reply = viewer.get("/api/v1/schedules/nightly/explain", params={"at": bad})
        assert reply.status_code == 422, (bad, reply.text)
        assert reply.headers["content-type"].startswith("application/problem+json")
        assert [e["field"] for e in reply.json()["errors"]] == ["at"]
    assert viewer.get("/api/v1/schedules/nightly/explain",
                      params={"locale": "fr"}).status_code == 422
    assert viewer.get("/api/v1/schedules/nope/explain").status_code == 404
    assert clients.anonymous.get("/api/v1/schedules/nightly/explain").status_code == 401
