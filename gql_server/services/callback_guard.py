"""The SSRF guard of callbacks: only public addresses, checked when the connection is made.

A callback URL is checked when it is saved, but a name can resolve elsewhere later (DNS
rebinding), so the address is checked again at connect time and the connection goes to
the very address that was checked. Every spelling of an address (decimal, hex, octal,
short, IPv6-mapped) is normalised by the resolver before the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from typing import Any

import certifi
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Hosts of cloud metadata services that are names rather than link-local addresses.
_METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog"})
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class AddressRefused(httpcore.ConnectError):
    """The callback's host is, or resolves to, an address callbacks may not reach."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64), if any."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def refusal(address: IPAddress) -> str | None:
    """Why a callback may not go to `address` (a resolved address), or None if it may."""
    inner = _embedded_ipv4(address) if isinstance(address, ipaddress.IPv6Address) else None
    if inner is not None:
        why = refusal(inner)
        return None if why is None else f"{why} (inside {address})"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address (cloud metadata lives there)"
    if address.is_unspecified:
        return f"{address} is the unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if not address.is_global:
        return f"{address} is a private or reserved address"
    return None


async def resolve_public(host: str, port: int) -> str:
    """Resolve `host` and return an address callbacks may reach, or raise AddressRefused.

    Every address the name resolves to must be allowed: a name with one private address
    among public ones is refused, since the connection could go to any of them.
    """
    if host.lower().rstrip(".") in _METADATA_HOSTS:
        raise AddressRefused(f"{host} is a cloud metadata host")
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise httpcore.ConnectError(f"cannot resolve {host}: {error}") from None
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
    for address in addresses:
        why = refusal(address)
        if why is not None:
            raise AddressRefused(f"refused: {host} -> {why}")
    if not addresses:
        raise httpcore.ConnectError(f"{host} has no address")
    return str(addresses[0])


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Connects only to addresses `resolve_public` allowed, and to exactly that address."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        address = await resolve_public(host, port)
        # TLS still verifies and sends SNI for the URL's host name: httpcore takes the
        # server name from the request, not from this address.
        return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise AddressRefused("callbacks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def callback_client(*, allow_private: bool, timeout_seconds: float) -> httpx.AsyncClient:
    """The HTTP client of deliveries: no redirects, no proxies from the environment, a timeout
    per attempt, and (unless private targets are allowed) the SSRF guard on every connection."""
    transport = httpx.AsyncHTTPTransport(trust_env=False, retries=0)
    if not allow_private:
        # httpx takes no network back end, so its connection pool is replaced by an
        # equivalent one that connects through the guard.
        transport._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl.create_default_context(cafile=certifi.where()),
            network_backend=_GuardedBackend(),
        )
    return httpx.AsyncClient(
        transport=transport,
        follow_redirects=False,
        trust_env=False,
        timeout=httpx.Timeout(timeout_seconds),
        headers={"user-agent": "gql-server-callbacks/1"},
    )
