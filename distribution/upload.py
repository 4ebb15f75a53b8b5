"""Uploads: the multipart body streamed to disk under a size cap, hashed as it is written,
checked (audio decoded, cover opened) in the executor, then stored with fresh codes."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import BinaryIO

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from pydantic import ValidationError

from distribution import artwork, audio, identifiers, pipeline, releases
from distribution.config import DistributionConfig
from distribution.errors import DistributionError
from distribution.keys import DECODES, DIST_CONFIG
from distribution.models import ReleaseMetadata
from distribution.packages import release_dir
from server.keys import CLOCK, DB

_CHUNK = 1 << 20
_METADATA_MAX = 64 * 1024
FILE_PARTS = ("audio", "cover")


@dataclass(frozen=True)
class Received:
    """One file part on disk, with its size and hashes."""

    path: Path
    size: int
    sha256: str
    md5: str


def _write(f: BinaryIO, chunk: bytes) -> None:
    f.write(chunk)


async def _save(part: BodyPartReader, path: Path, cap: int) -> Received:
    loop = asyncio.get_running_loop()
    sha, md5 = hashlib.sha256(), hashlib.md5(usedforsecurity=False)
    size = 0
    with path.open("wb") as f:
        while chunk := await part.read_chunk(_CHUNK):
            size += len(chunk)
            if size > cap:
                raise DistributionError("too_large", f"{part.name} is larger than {cap} bytes")
            sha.update(chunk)
            md5.update(chunk)
            await loop.run_in_executor(None, _write, f, chunk)
    return Received(path, size, sha.hexdigest(), md5.hexdigest())


async def receive(request: web.Request, folder: Path) -> tuple[bytes, dict[str, Received]]:
    """Read the parts `metadata` (JSON), `audio` and `cover` into `folder`."""
    cfg = request.app[DIST_CONFIG]
    if not request.content_type.startswith("multipart/"):
        raise DistributionError(
            "invalid_upload", "send multipart/form-data with metadata, audio and cover"
        )
    try:
        reader = await request.multipart()
        metadata: bytes | None = None
        files: dict[str, Received] = {}
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise DistributionError("invalid_upload", "nested multipart is not accepted")
            name = part.name or ""
            if name == "metadata" and metadata is None:
                metadata = await part.read(decode=False)
                if len(metadata) > _METADATA_MAX:
                    raise DistributionError("too_large", "metadata is larger than 64 KiB")
            elif name in FILE_PARTS and name not in files:
                files[name] = await _save(part, folder / name, cfg.max_upload_bytes)
            else:
                raise DistributionError("invalid_upload", f"unexpected part {name!r}")
    except (ValueError, AssertionError, UnicodeDecodeError, HttpProcessingError):
        raise DistributionError("invalid_upload", "malformed multipart body") from None
    if metadata is None:
        raise DistributionError("invalid_field", "the metadata part is required")
    for name in FILE_PARTS:
        if name not in files:
            raise DistributionError("invalid_field", f"the {name} part is required")
    return metadata, files


def parse_metadata(raw: bytes) -> ReleaseMetadata:
    """The metadata part as a model, or DistributionError naming the first problem."""
    try:
        return ReleaseMetadata.model_validate_json(raw)
    except ValidationError as exc:
        err = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in err["loc"]) or "metadata"
        if err["type"] == "json_invalid":
            raise DistributionError("invalid_field", "metadata is not valid JSON") from None
        if err["type"] == "missing":
            raise DistributionError("invalid_field", f"metadata.{where} is required") from None
        message = err["msg"].removeprefix("Value error, ")
        raise DistributionError("invalid_field", f"metadata.{where}: {message}") from None


async def accept(
    app: web.Application, artist_id: uuid.UUID, request: web.Request
) -> releases.Release:
    """The whole upload: receive, check, then store with codes and queue the build."""
    cfg: DistributionConfig = app[DIST_CONFIG]
    incoming = cfg.data_dir / "incoming" / uuid.uuid4().hex
    incoming.mkdir(parents=True)
    try:
        raw, files = await receive(request, incoming)
        meta = parse_metadata(raw)
        iswc = identifiers.check_iswc(meta.iswc) if meta.iswc else None
        loop = asyncio.get_running_loop()
        async with app[DECODES]:
            sound = await loop.run_in_executor(None, audio.check, files["audio"].path)
            cover = await loop.run_in_executor(
                None, artwork.check, files["cover"].path, cfg.min_cover_px
            )
        release_id = uuid.uuid4()
        target = release_dir(cfg, release_id)
        target.mkdir(parents=True)
        try:
            files["audio"].path.rename(target / f"audio.{sound.format}")
            files["cover"].path.rename(target / f"cover.{cover.extension}")
            a, c = files["audio"], files["cover"]
            audio_row = {**asdict(sound), "size": a.size, "sha256": a.sha256, "md5": a.md5}
            cover_row = {**asdict(cover), "size": c.size, "sha256": c.sha256, "md5": c.md5}
            year = app[CLOCK].now().year
            async with app[DB].acquire() as conn, conn.transaction():
                isrc = await identifiers.next_isrc(conn, cfg, year)
                upc = await identifiers.next_upc(conn, cfg)
                release = await releases.insert(
                    conn,
                    release_id,
                    artist_id,
                    isrc,
                    upc,
                    iswc,
                    meta.model_dump(mode="json", exclude={"iswc"}),
                    audio_row,
                    cover_row,
                )
                await pipeline.enqueue(app, conn, release)
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        return release
    finally:
        shutil.rmtree(incoming, ignore_errors=True)
