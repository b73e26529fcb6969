"""The HTTP task's host rule (horae.integrations.hosts), without a network."""

from __future__ import annotations

import ipaddress

import httpx
import pytest

from horae.config import IntegrationSettings
from horae.errors import InvalidInput
from horae.integrations.hosts import HostPolicy, HostRefused

POLICY = HostPolicy(["api.example.com", "*.corp.example", "10.1.0.0/16", "127.0.0.1"])


@pytest.mark.parametrize("url", [
    "https://api.example.com/x", "https://API.Example.com./x", "http://a.corp.example/",
    "http://b.a.corp.example:8080/", "http://10.1.2.3/", "http://127.0.0.1:9/",
])
def test_listed_urls_pass(url: str) -> None:
    POLICY.check_url(httpx.URL(url))


@pytest.mark.parametrize("url", [
    "https://corp.example/",                       # the pattern covers subdomains only
    "https://api.example.com.evil.test/",          # a listed name as a prefix
    "https://evilapi.example.com/",
    "https://api.example.com@evil.test/",          # user@host: the host is evil.test
    "https://evil.test@api.example.com/",          # credentials are refused outright
    "http://2130706433/", "http://0x7f.0.0.1/",    # 127.0.0.1 written otherwise
    "http://10.2.0.1/", "file:///etc/passwd", "ftp://api.example.com/",
    "https://evil.test#api.example.com", "https://evil.test\\.api.example.com/",
])
def test_other_urls_are_refused(url: str) -> None:
    with pytest.raises((HostRefused, httpx.InvalidURL)):
        POLICY.check_url(httpx.URL(url))


@pytest.mark.parametrize(("address", "allowed"), [
    ("93.184.216.34", True), ("10.1.9.9", True), ("127.0.0.1", True),
    ("127.0.0.2", False), ("169.254.169.254", False), ("192.168.1.1", False),
    ("::1", False), ("::ffff:127.0.0.2", False), ("::ffff:10.1.0.5", True),
])
def test_resolved_addresses_must_be_public_or_listed(address: str, allowed: bool) -> None:
    ip = ipaddress.ip_address(address)
    if allowed:
        POLICY.check_address("h", ip)
    else:
        with pytest.raises(HostRefused, match="private or reserved"):
            POLICY.check_address("h", ip)


def test_bad_entries_name_the_setting() -> None:
    with pytest.raises(InvalidInput) as caught:
        HostPolicy(["*evil*"])
    assert caught.value.field == "http_allow_hosts"


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HORAE_HTTP_ALLOW_HOSTS", "a.example, *.b.example")
    monkeypatch.setenv("HORAE_HTTP_SECRETS", "TOKEN=MY_TOKEN,OTHER=OTHER_VAR")
    monkeypatch.setenv("HORAE_SHELL_ALLOW", '{"backup": ["/bin/backup", "--full"]}')
    s = IntegrationSettings.from_config()
    assert s.http_allow_hosts == ("a.example", "*.b.example")
    assert s.secrets == {"TOKEN": "MY_TOKEN", "OTHER": "OTHER_VAR"}
    assert s.commands == {"backup": ("/bin/backup", "--full")}


@pytest.mark.parametrize(("name", "value"), [
    ("shell_allow", '{"backup": "/bin/backup --full"}'), ("shell_allow", "backup"),
    ("http_secrets", "TOKEN"), ("http_secrets", '{"TOKEN": 3}'),
])
def test_bad_settings_name_the_setting(monkeypatch: pytest.MonkeyPatch, name: str,
                                       value: str) -> None:
    monkeypatch.setenv(f"HORAE_{name.upper()}", value)
    with pytest.raises(InvalidInput) as caught:
        IntegrationSettings.from_config()
    assert caught.value.field.startswith(name)
