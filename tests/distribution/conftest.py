"""Fixtures for distribution: real sshd servers standing in for two DSPs, an app configured
to deliver to them, and release packages on disk."""

from __future__ import annotations

import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
from aiohttp import web

from distribution.package import PackageFile, ReleasePackage
from server.keys import DB
from tests import sftp_server
from tests.apps import app_with
from tests.conftest import Api
from tests.sftp_server import SftpServer


@dataclass(frozen=True)
class Dsps:
    """Two DSP servers: `spotify` and `deezer` in the app's configuration."""

    spotify: SftpServer
    deezer: SftpServer

    def env(self, **extra: str) -> dict[str, str]:
        """The environment configuring both targets."""
        return {**self.spotify.env("spotify"), **self.deezer.env("deezer"), **extra}


@pytest.fixture
def sshd() -> Iterator[Dsps]:
    """Two real sshd servers, each with its own host key and jail."""
    with sftp_server.running() as one, sftp_server.running() as two:
        yield Dsps(one, two)


DistApp = Callable[..., Awaitable[Api]]


@pytest.fixture
async def dist_app(app_server: tuple[web.Application, str]) -> AsyncIterator[DistApp]:
    """Start apps with the given environment, each on its own job queue (so only its own
    worker runs its deliveries) with short retry delays."""
    async with AsyncExitStack() as stack:

        async def start(env: dict[str, str]) -> Api:
            queue = f"dist_{secrets.token_hex(4)}"
            settings = {
                "MHC_JOBS_QUEUE": queue,
                "MHC_JOBS_RETRY_SECONDS": "0.2",
                "MHC_JOBS_MAX_RETRY_SECONDS": "2",
                "MHC_DISTRIBUTION_SFTP_TIMEOUT": "10",
                **env,
            }
            return await stack.enter_async_context(app_with(app_server[0], env=settings))

        yield start


def make_package(
    root: Path,
    dsp: str,
    *,
    release_id: uuid.UUID | None = None,
    audio_bytes: int = 200_000,
    kind: Literal["insert", "update", "takedown"] = "insert",
) -> ReleasePackage:
    """A release package on disk: an ERN message, an audio resource and cover art."""
    release_id = release_id or uuid.uuid4()
    message_id = f"MSG{secrets.token_hex(8).upper()}"
    folder = root / f"{dsp}-{message_id}"
    (folder / "resources").mkdir(parents=True)
    contents = {
        f"{message_id}.xml": (
            f'<?xml version="1.0"?><ern:NewReleaseMessage xmlns:ern="http://ddex.net/xml/ern/43">'
            f"<MessageHeader><MessageId>{message_id}</MessageId></MessageHeader>"
            f"</ern:NewReleaseMessage>"
        ).encode(),
        "resources/A1.flac": os.urandom(audio_bytes),
        "resources/cover.jpg": os.urandom(20_000),
    }
    files = []
    for rel, data in contents.items():
        (folder / rel).write_bytes(data)
        files.append(PackageFile(rel, len(data), hashlib.md5(data).hexdigest()))
    return ReleasePackage(
        release_id=release_id,
        dsp=dsp,
        message_id=message_id,
        folder=folder,
        message_file=f"{message_id}.xml",
        files=tuple(files),
        kind=kind,
    )


async def enqueue(api: Api, packages: list[ReleasePackage]) -> list[tuple[str, str]]:
    """Queue packages for delivery as the release pipeline does, in its transaction."""
    from distribution import delivery

    async with api.app[DB].acquire() as conn, conn.transaction():
        return await delivery.enqueue(api.app, conn, packages)


async def owned_release(api: Api, artist_id: str) -> uuid.UUID:
    """A release row owned by `artist_id`, as an upload leaves it. The release pipeline owns
    this table; the stand-in is created only where its migration has not run."""
    release_id = uuid.uuid4()
    async with api.app[DB].acquire() as conn:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS distribution_releases (
                   id uuid PRIMARY KEY, artist_id uuid NOT NULL, isrc text NOT NULL,
                   upc text NOT NULL, metadata jsonb NOT NULL, audio jsonb NOT NULL,
                   cover jsonb NOT NULL)"""
        )
        digits = f"{secrets.randbelow(10**12):012d}"
        await conn.execute(
            """INSERT INTO distribution_releases (id, artist_id, isrc, upc, metadata, audio, cover)
               VALUES ($1, $2, $3, $4, '{}', '{}', '{}')""",
            release_id,
            uuid.UUID(artist_id),
            f"XX-T{digits[:2]}-26-{digits[2:7]}",
            f"0{digits}",
        )
    return release_id
