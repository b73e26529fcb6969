"""Which hosts the HTTP task may reach, checked twice: on the URL, and on every address
the connection is actually made to.

The rule (docs/integrations.md, "HTTP task"):

- only ``http`` and ``https``; a URL with credentials (``user@host``) is refused, so a
  host cannot hide behind a user name;
- the URL's host must be listed: exactly (``api.example.com``), under a ``*.`` pattern
  (``*.example.com`` covers its subdomains, not itself), or, for an IP address written in
  the URL, as that address or a network (``10.0.0.0/8``);
- every address a name resolves to must be public, unless the admin listed it (or its
  network) too. The check is made when the connection is opened, on the address it is
  opened to, so a name that resolves differently the second time (DNS rebinding), a
  numeric form (``2130706433``) or a listed name pointing at ``127.0.0.1`` or the cloud
  metadata address reach nothing that was not listed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from horae.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class HostRefused(Exception):
    """The URL or an address is outside what the admin allow-listed; nothing was sent."""


class HostPolicy:
    """The parsed ``http_allow_hosts``: names, ``*.`` suffixes and IP networks."""

    def __init__(self, entries: Iterable[str]) -> None:
        self.names: set[str] = set()
        self.suffixes: set[str] = set()
        self.networks: list[Network] = []
        for raw in entries:
            entry = raw.strip().lower().rstrip(".").strip("[]")
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*.") and len(entry) > 2 and "*" not in entry[2:]:
                self.suffixes.add(entry[1:])  # ".example.com"
            elif entry and "*" not in entry and "/" not in entry and "@" not in entry:
                self.names.add(entry)
            else:
                raise InvalidInput("http_allow_hosts", f"{raw!r} is not a host name, a "
                                   "'*.example.com' pattern, an IP address or a network")

    def __bool__(self) -> bool:
        return bool(self.names or self.suffixes or self.networks)

    def check_url(self, url: httpx.URL) -> None:
        """Raise :class:`HostRefused` unless ``url`` may be requested (before resolving)."""
        if url.scheme not in ("http", "https"):
            raise HostRefused(f"only http and https URLs are allowed, not {url.scheme!r}")
        if url.userinfo:
            raise HostRefused("URLs with a user name or password (user@host) are refused")
        host = url.host.lower().rstrip(".")
        if not host:
            raise HostRefused("the URL has no host")
        address = _address(host)
        if address is not None:
            if not self.listed_address(address):
                raise HostRefused(f"address {host} is not in http_allow_hosts")
            return
        if host in self.names or any(host.endswith(s) for s in self.suffixes):
            return
        raise HostRefused(f"host {host!r} is not in http_allow_hosts")

    def listed_address(self, address: Address) -> bool:
        address = _unmapped(address)
        return any(address in network for network in self.networks)

    def check_address(self, host: str, address: Address) -> None:
        """An address the connection to ``host`` would go to: public, or listed."""
        address = _unmapped(address)
        if self.listed_address(address) or address.is_global:
            return
        raise HostRefused(f"host {host!r} resolves to {address}, a private or reserved "
                          "address; list the address in http_allow_hosts to allow it")


def _address(text: str) -> Address | None:
    try:
        return _unmapped(ipaddress.ip_address(text))
    except ValueError:
        return None


def _unmapped(address: Address) -> Address:
    """``::ffff:127.0.0.1`` is 127.0.0.1 (older Pythons call the mapped form global)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class GuardedBackend(httpcore.SyncBackend):
    """Opens connections only to addresses the policy allows: the name is resolved here,
    each address checked, and the socket connected to the checked address itself (so no
    second resolution can differ). TLS still verifies the name of the URL."""

    def __init__(self, policy: HostPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc}") from exc
        addresses = []
        for family, _type, _proto, _name, sockaddr in infos:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
            self.policy.check_address(host, address)  # every one, not just the first
            addresses.append((family, str(address)))
        last: OSError | None = None
        for _family, ip in addresses:
            try:
                return super().connect_tcp(ip, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = OSError(str(exc))
        raise httpcore.ConnectError(f"cannot connect to {host!r}: {last}")


def guarded_client(policy: HostPolicy, timeout: float) -> httpx.Client:
    """An httpx client whose connections pass :class:`GuardedBackend`; it follows no
    redirect and ignores proxy settings of the environment (a proxy would connect for us,
    past the guard)."""
    transport = httpx.HTTPTransport(retries=0)
    transport._pool = httpcore.ConnectionPool(  # the public way to choose the backend
        ssl_context=httpx.create_ssl_context(), network_backend=GuardedBackend(policy))
    return httpx.Client(transport=transport, timeout=timeout, follow_redirects=False,
                        trust_env=False)
