"""Channel validation and app.channels' merge rules (pure, and on an in-memory database):
defaults, each bad field named, secrets kept, set and cleared, the kind fixed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from horae import Horae
from horae.alerts.channels import KINDS, SPECS, check_config, merge_secrets
from horae.alerts.message import Message, sample_message
from horae.alerts.senders import redact
from horae.alerts.senders.http import origin
from horae.errors import InvalidInput

EMAIL = {"host": "smtp.example.com", "from_addr": "horae@example.com", "to": "a@x.org, b@x.org"}


@pytest.fixture
def app() -> Iterator[Horae]:
    h = Horae("sqlite:///:memory:")
    yield h
    h.store.close()


def test_every_kind_has_a_spec_and_a_timeout() -> None:
    assert set(KINDS) == set(SPECS)
    for spec in SPECS.values():
        assert "timeout" in spec.config


def test_email_defaults_and_port_by_security() -> None:
    clean = check_config("email", EMAIL)
    assert clean == {"host": "smtp.example.com", "from_addr": "horae@example.com",
                     "to": ["a@x.org", "b@x.org"], "security": "starttls", "port": 587,
                     "timeout": 10.0}
    assert check_config("email", dict(EMAIL, security="ssl"))["port"] == 465
    assert check_config("email", dict(EMAIL, security="none", port=2525))["port"] == 2525


@pytest.mark.parametrize(("kind", "config", "field"), [
    ("email", dict(EMAIL, port=True), "config.port"),
    ("email", dict(EMAIL, security="tls"), "config.security"),
    ("email", dict(EMAIL, to=[]), "config.to"),
    ("email", dict(EMAIL, to=["ok@x.org", "bad"]), "config.to[1]"),
    ("email", dict(EMAIL, host=""), "config.host"),
    ("webhook", {"url": "http://user:pw@x.org/"}, "config.url"),
    ("webhook", {"url": "https:///nohost"}, "config.url"),
    ("webhook", {"url": "http://x.org:99999/"}, "config.url"),
    ("webhook", {"url": "http://x.org/a b"}, "config.url"),
    ("webhook", {"url": "http://x.org/", "timeout": 0}, "config.timeout"),
    ("dingtalk", {"at_all": "yes"}, "config.at_all"),
    ("slack", {"url": "http://x.org/"}, "config.url"),
])
def test_bad_config_names_the_field(kind: str, config: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_config(kind, config)
    assert caught.value.field == field


def test_secrets_merge_keeps_sets_and_clears() -> None:
    current = {"webhook_url": "https://x.org/robot?access_token=t", "signing_secret": "s"}
    assert merge_secrets("dingtalk", current, {}) == current
    assert merge_secrets("dingtalk", current, {"signing_secret": None}) == {
        "webhook_url": current["webhook_url"]}
    assert merge_secrets("dingtalk", current, {"signing_secret": "n"})["signing_secret"] == "n"
    with pytest.raises(InvalidInput) as caught:
        merge_secrets("dingtalk", current, {"webhook_url": None})
    assert caught.value.field == "secrets.webhook_url"
    with pytest.raises(InvalidInput) as caught:
        merge_secrets("dingtalk", current, {"webhook_url": "javascript:alert(1)"})
    assert "javascript" not in caught.value.reason


def test_update_merges_config_resets_to_defaults_and_keeps_the_kind(app: Horae) -> None:
    app.channels.add("mail", "email", dict(EMAIL, security="ssl", username="u"),
                     {"password": "p"})
    changed = app.channels.update("mail", config={"security": "starttls", "timeout": 3})
    assert changed.config["port"] == 587 and changed.config["timeout"] == 3.0
    assert changed.secrets == {"password": True} and changed.version == 2
    reset = app.channels.update("mail", config={"timeout": None})
    assert reset.config["timeout"] == 10.0
    with pytest.raises(InvalidInput) as caught:
        app.channels.update("mail", config={"username": None})  # a password needs a user
    assert caught.value.field == "config.username"
    with pytest.raises(InvalidInput) as caught:
        app.channels.update("mail", config={"kind": "slack"})
    assert caught.value.field == "config.kind"
    assert app.channels.get("mail").version == 3


def test_sendable_channel_repr_hides_secrets(app: Horae) -> None:
    app.channels.add("s", "slack", secrets={"webhook_url": "https://hooks.slack.com/T/B/sekrit"})
    sender = app.channels.sender("s")
    assert "sekrit" not in repr(sender) and "sekrit" not in repr(sender.channel)


def test_redaction_hides_secret_values_and_robot_url_paths() -> None:
    secrets = {"webhook_url": "https://oapi.dingtalk.com/robot/send?access_token=tok9",
               "signing_secret": "SECabc"}
    text = ("failed https://oapi.dingtalk.com/robot/send?access_token=tok9 "
            "robot/send?access_token=tok9 SECabc")
    assert redact(text, secrets) == "failed *** *** ***"
    assert origin(secrets["webhook_url"]) == "https://oapi.dingtalk.com"
    assert redact(None, secrets) is None


def test_sample_message_in_both_languages() -> None:
    en, zh = sample_message("ops"), sample_message("ops", "zh-CN")
    assert en.title == "Horae test notification" and en.fields["Channel"] == "ops"
    assert zh.title == "Horae 测试通知" and zh.fields["通道"] == "ops" and zh.locale == "zh-CN"
    assert sample_message("ops", "fr").locale == "en"
    assert Message("t", "x", fields={"a": "1"}, link="http://l").plain() == "x\na: 1\nhttp://l"
