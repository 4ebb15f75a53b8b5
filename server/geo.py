"""Where an address is (from a MaxMind-format City database), and how far apart two places are."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import geoip2.database
import geoip2.errors
import maxminddb.errors
from aiohttp import web

from server.keys import CONFIG

EARTH_RADIUS_MILES = 3958.8

# One reader per database file, opened on first use (lookups are in-memory and fast).
_readers: dict[Path, geoip2.database.Reader] = {}


@dataclass(frozen=True)
class Place:
    """A point on Earth."""

    latitude: float
    longitude: float


def _reader(path: Path) -> geoip2.database.Reader:
    reader = _readers.get(path)
    if reader is None:
        reader = _readers[path] = geoip2.database.Reader(str(path))
    return reader


def locate(app: web.Application, ip: str) -> Place | None:
    """Where `ip` is, or None: geolocation off, a private, loopback or other non-public
    address (never looked up), or an address the database does not place."""
    path = app[CONFIG].geoip_db
    if path is None:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if not address.is_global:
        return None
    try:
        location = _reader(path).city(str(address)).location
    except (
        geoip2.errors.AddressNotFoundError,
        maxminddb.errors.InvalidDatabaseError,
        ValueError,
    ):  # ValueError: an IPv6 address in an IPv4-only database
        return None
    if location.latitude is None or location.longitude is None:
        return None
    return Place(location.latitude, location.longitude)


def miles_between(a: Place, b: Place) -> float:
    """Great-circle distance (haversine)."""
    lat1, lat2 = math.radians(a.latitude), math.radians(b.latitude)
    dlat, dlon = lat2 - lat1, math.radians(b.longitude - a.longitude)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(min(1.0, math.sqrt(h)))


def impossible_travel(
    app: web.Application, before: Place, seen_at: datetime, now_place: Place, now: datetime
) -> float | None:
    """The distance in miles when going from `before` (at `seen_at`) to `now_place` (at `now`)
    is farther than the configured distance in less time than any traveller needs; else None."""
    cfg = app[CONFIG]
    miles = miles_between(before, now_place)
    if miles <= cfg.geo_max_miles:
        return None
    hours = max((now - seen_at).total_seconds(), 0.0) / 3600
    return miles if miles > cfg.geo_max_mph * hours else None
