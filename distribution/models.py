"""Request and reply bodies of the distribution routes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from server.api import Body, Query, Reply

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Territory = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Z]{2}|Worldwide)$"),
    Field(description="ISO 3166-1 alpha-2 code, or Worldwide"),
]
# Display artists are named on the release; the others are credited as contributors.
DISPLAY_ROLES = ("MainArtist", "FeaturedArtist")
ROLES = (
    *DISPLAY_ROLES,
    "StudioProducer",
    "Remixer",
    "Mixer",
    "MixingEngineer",
    "MasteringEngineer",
)
Role = Literal[
    "MainArtist",
    "FeaturedArtist",
    "StudioProducer",
    "Remixer",
    "Mixer",
    "MixingEngineer",
    "MasteringEngineer",
]
Month = Annotated[
    str,
    StringConstraints(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$"),
    Field(description="a calendar month, YYYY-MM (2000-01 to 2999-12)"),
]


class ArtistCredit(Body):
    """A person or group credited on the recording, with their DDEX role."""

    name: Text
    role: Role


class ReleaseFields(Body):
    """Metadata an artist may correct after the first delivery (every field optional)."""

    title: Text | None = None
    version: Text | None = None
    artists: list[ArtistCredit] | None = Field(default=None, min_length=1, max_length=20)
    genre: Text | None = None
    release_date: dt.date | None = None
    label: Text | None = None
    c_line: Line | None = Field(default=None, description="the © line, e.g. '2026 Label'")
    p_line: Line | None = Field(default=None, description="the ℗ line")
    explicit: bool | None = None
    territories: list[Territory] | None = Field(default=None, min_length=1, max_length=250)
    iswc: str | None = Field(
        default=None,
        max_length=20,
        description="the work's ISWC (T-NNN.NNN.NNN-C) when a society assigned one",
    )

    @field_validator("artists")
    @classmethod
    def _one_main(cls, value: list[ArtistCredit] | None) -> list[ArtistCredit] | None:
        if value is not None and not any(a.role == "MainArtist" for a in value):
            raise ValueError("at least one artist must have the role MainArtist")
        return value

    @field_validator("territories")
    @classmethod
    def _distinct(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and ("Worldwide" in value and len(value) > 1):
            raise ValueError("Worldwide stands alone")
        if value is not None and len(set(value)) != len(value):
            raise ValueError("a territory is named twice")
        return value


class ReleaseMetadata(ReleaseFields):
    """What an upload's `metadata` part holds (JSON): everything but version and ISWC required."""

    @model_validator(mode="after")
    def _required(self) -> ReleaseMetadata:
        for name in (
            "title",
            "artists",
            "genre",
            "release_date",
            "label",
            "c_line",
            "p_line",
            "explicit",
            "territories",
        ):
            if getattr(self, name) is None:
                raise ValueError(f"{name} is required")
        return self


class Accepted(Reply):
    """An upload taken: its codes; the rest runs in the background."""

    id: uuid.UUID
    isrc: str = Field(description="CC-XXX-YY-NNNNN")
    upc: str = Field(description="EAN-13")
    state: str


class Pipeline(Reply):
    """Where the release's own work stands (delivery has its own states per store)."""

    state: str
    progress: int
    reason: str | None


class ReleaseOut(Reply):
    """One release as its artist sees it."""

    id: uuid.UUID
    title: str
    version: str | None
    isrc: str
    upc: str
    iswc: str | None
    release_date: dt.date
    state: str
    progress: int
    reason: str | None
    revision: int
    created_at: str


class ReleaseList(Reply):
    """The caller's releases, newest first."""

    releases: list[ReleaseOut]


class RoyaltyQuery(Query):
    """Which month of usage."""

    month: Month


class RoyaltyLineOut(Reply):
    """Usage of one release in one store and territory: exact gross, then minor units."""

    store: str
    release_id: uuid.UUID
    title: str
    isrc: str
    territory: str
    units: str = Field(description="streams or sales, exact decimal")
    currency: str
    gross: str = Field(description="exact decimal as reported")
    gross_minor: int
    platform_fee: int
    artist_payout: int


class RoyaltyList(Reply):
    """An artist's month of royalty lines."""

    month: str
    lines: list[RoyaltyLineOut]
