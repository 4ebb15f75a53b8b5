"""The client's address: the peer, or what a trusted proxy in front of us says it is."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from aiohttp import web

from server.config import Network
from server.keys import CONFIG

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _parse(raw: str) -> Address | None:
    try:
        address = ipaddress.ip_address(raw.strip())
    except ValueError:
        return None
    # An IPv4 client seen through an IPv6 socket is still that IPv4 client.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _trusted(address: Address, networks: Sequence[Network]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def resolve(
    peer: str | None, forwarded_for: str | None, real_ip: str | None, trusted: Sequence[Network]
) -> str:
    """The client address from the peer and its forwarding headers.

    Headers count only when the peer is a trusted proxy. X-Forwarded-For is read right to
    left, skipping trusted hops: everything left of the first untrusted hop was written by
    the client itself and can be anything.
    """
    address = _parse(peer or "")
    if address is None:
        return peer or "unknown"
    if not _trusted(address, trusted):
        return str(address)
    if forwarded_for:
        for hop in reversed([h for h in forwarded_for.split(",") if h.strip()]):
            parsed = _parse(hop)
            if parsed is None:
                break  # garbage from an untrusted writer: stop at the last hop we trust
            address = parsed
            if not _trusted(parsed, trusted):
                break
        return str(address)
    if real_ip:
        parsed = _parse(real_ip)
        if parsed is not None:
            return str(parsed)
    return str(address)


def client_ip(request: web.Request) -> str:
    """The address of the client that sent `request`."""
    return resolve(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.headers.get("X-Real-IP"),
        request.app[CONFIG].trusted_proxies,
    )
