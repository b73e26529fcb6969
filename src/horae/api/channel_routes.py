"""``/api/v1/channels``: notification channels (admin only, since they hold secrets).

Secrets are write-only: an answer carries ``secrets`` as name -> set or not, never a
value, and the audit records only the names of the secrets that are set (and, on a
change, of those the request touched). On PATCH a secret not named is kept, a value
replaces it and ``null`` clears it; ``config`` fields given replace those stored. The
ETag is the version; ``If-Match`` makes a change conditional on it (412 when stale).
``POST /channels/{id}/test`` sends a sample message now and answers what came of it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from horae.alerts.channels import KINDS, Channel
from horae.api import schemas as S
from horae.api.auth import Role
from horae.api.framework import Call, Operation, Reply
from horae.api.problems import ApiError
from horae.errors import Conflict
from horae.instants import iso

_STRICT = ConfigDict(extra="forbid", strict=True)
SecretValue = Annotated[str, Field(max_length=4096)] | None


class ChannelCreate(BaseModel):
    model_config = _STRICT
    name: Annotated[str, Field(max_length=200)]
    kind: Annotated[str, Field(description=f"one of {', '.join(KINDS)}")]
    config: dict[str, Any] = Field(default_factory=dict,
                                   description="the kind's settings (docs/alerts.md)")
    secrets: dict[str, SecretValue] = Field(
        default_factory=dict, description="write-only: never returned")
    enabled: bool = True


class ChannelPatch(BaseModel):
    model_config = _STRICT
    name: Annotated[str, Field(max_length=200)] | None = None
    config: dict[str, Any] | None = Field(
        default=None, description="fields given replace the stored ones; null resets one")
    secrets: dict[str, SecretValue] | None = Field(
        default=None, description="a value sets a secret, null clears it, one not named "
                                  "is kept")
    enabled: bool | None = None


class ChannelOut(BaseModel):
    id: int
    name: str
    kind: Literal["email", "webhook", "slack", "dingtalk", "wecom", "feishu", "teams"]
    config: dict[str, Any]
    secrets: dict[str, bool] = Field(description="each secret of the kind: set or not")
    enabled: bool
    version: int
    created_at: S.IsoTime
    updated_at: S.IsoTime


class ChannelList(BaseModel):
    items: list[ChannelOut]


class DeliveryOut(BaseModel):
    status: Literal["sent", "failed"]
    code: int | None = Field(description="the HTTP status, or the SMTP reply code")
    reply: str | None = Field(description="the start of the answer")
    error: str | None
    duration: float = Field(description="seconds")


def channel_wire(ch: Channel) -> dict[str, Any]:
    return {"id": ch.id, "name": ch.name, "kind": ch.kind, "config": ch.config,
            "secrets": ch.secrets, "enabled": ch.enabled, "version": ch.version,
            "created_at": iso(ch.created_at), "updated_at": iso(ch.updated_at)}


def audit_form(ch: Channel) -> dict[str, Any]:
    """What the audit keeps: the channel with the *names* of the secrets that are set."""
    return channel_wire(ch) | {"secrets": sorted(n for n, s in ch.secrets.items() if s)}


def _reply(ch: Channel, status: int = 200) -> Reply:
    headers = {"ETag": f'"{ch.version}"', "Cache-Control": "no-store"}
    if status == 201:
        headers["Location"] = f"/api/v1/channels/{ch.id}"
    return Reply(channel_wire(ch), status, headers)


def list_channels(c: Call) -> Reply:
    return Reply({"items": [channel_wire(ch) for ch in c.api.horae.channels.list()]})


def create_channel(c: Call) -> Reply:
    b: ChannelCreate = c.body
    try:
        with c.audited("channel.create", "channel", target=lambda ch: str(ch.id),
                       after=audit_form):
            ch = c.api.horae.channels.add(b.name, b.kind, b.config, b.secrets,
                                          enabled=b.enabled)
    except Conflict:
        raise ApiError(409, f"a channel named {b.name!r} exists; choose another name",
                       errors=[{"field": "name", "reason": "already taken"}],
                       slug="conflict") from None
    return _reply(ch, 201)


def get_channel(c: Call) -> Reply:
    return _reply(c.api.horae.channels.get(c.path["channel_id"]))


def _current(c: Call) -> Channel:
    current: Channel = c.api.horae.channels.get(c.path["channel_id"])
    expected = c.expected_version()
    if expected is not None and expected != current.version:
        raise ApiError(412, f"channel {current.id} is at version {current.version}, not "
                            f"{expected}: someone changed it since you read it; read it "
                            "again and retry", slug="precondition-failed")
    return current


def patch_channel(c: Call) -> Reply:
    b: ChannelPatch = c.body
    current = _current(c)
    touched = sorted((b.secrets or {}).keys())

    def after(ch: Channel) -> dict[str, Any]:
        return audit_form(ch) | {"secrets_changed": touched}

    try:
        with c.audited("channel.update", "channel", target=str(current.id),
                       before=audit_form(current), after=after):
            ch = c.api.horae.channels.update(
                current.id, name=b.name, config=b.config, secrets=b.secrets,
                enabled=b.enabled, expected_version=current.version)
    except Conflict as e:
        if "named" in str(e):
            raise ApiError(409, f"a channel named {b.name!r} exists; choose another name",
                           errors=[{"field": "name", "reason": "already taken"}],
                           slug="conflict") from None
        raise
    return _reply(ch)


def delete_channel(c: Call) -> Reply:
    current = _current(c)
    with c.audited("channel.delete", "channel", target=str(current.id),
                   before=audit_form(current)):
        c.api.horae.channels.remove(current.id, expected_version=current.version)
    return Reply(None, 204)


def test_channel(c: Call) -> Reply:
    locale = "zh-CN" if c.language == "zh" else "en"
    result = c.api.horae.channels.test(c.path["channel_id"], locale=locale)
    return Reply(result.to_dict(), headers={"Cache-Control": "no-store"})


E_WRITE = (400, 404, 409, 412, 413, 415, 422)

CHANNEL_OPERATIONS: list[Operation] = [
    Operation("GET", "/channels", "listChannels",
              "Notification channels (never their secrets)", "channels", Role.ADMIN,
              list_channels, response=ChannelList),
    Operation("POST", "/channels", "createChannel", "Create a notification channel",
              "channels", Role.ADMIN, create_channel, body=ChannelCreate, response=ChannelOut,
              status=201, errors=(400, 409, 413, 415, 422), etag=True, location=True,
              description="Each kind's fields are in docs/alerts.md; a bad one is a 422 "
                          "naming it (`config.port`, `secrets.webhook_url`)."),
    Operation("GET", "/channels/{channel_id:int}", "getChannel", "One channel", "channels",
              Role.ADMIN, get_channel, response=ChannelOut, errors=(404,), etag=True),
    Operation("PATCH", "/channels/{channel_id:int}", "patchChannel",
              "Change a channel (secrets: a value sets, null clears, absent keeps)",
              "channels", Role.ADMIN, patch_channel, body=ChannelPatch, response=ChannelOut,
              errors=E_WRITE, if_match=True, etag=True),
    Operation("DELETE", "/channels/{channel_id:int}", "deleteChannel", "Delete a channel",
              "channels", Role.ADMIN, delete_channel, status=204, errors=(404, 409, 412),
              if_match=True),
    Operation("POST", "/channels/{channel_id:int}/test", "testChannel",
              "Send a test message through a channel now", "channels", Role.ADMIN,
              test_channel, response=DeliveryOut, errors=(404,),
              description="Answers 200 with the delivery result, also when the delivery "
                          "failed (`status: failed`, with the reason)."),
]
