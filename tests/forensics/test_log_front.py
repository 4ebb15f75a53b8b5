"""The public log through the real nginx: checkpoint and tiles as static files with the
right cache lifetimes, nothing else under /log/, and the offline verifier proving a bundle
against tiles fetched from the log's URL."""

from __future__ import annotations

import uuid
from pathlib import Path

import aiohttp
from aiohttp import web

from forensics import service, store, tiles
from forensics.checkpoint import verify_checkpoint
from forensics.keys import EXPORTS, FCONFIG, SIGNER
from forensics.verify import verify_bundle
from server.keys import DB
from tests.conftest import Nginx


async def append(app: web.Application, n: int) -> None:
    for i in range(n):
        await service.log_event(app, "PLAYBACK_REVOKED", None, f"front-{i}", {"reason": "x"})


async def get(url: str) -> tuple[int, bytes, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.read(), resp.headers.get("Cache-Control", "")


async def test_nginx_serves_checkpoint_and_tiles_for_monitors(
    app_server: tuple[web.Application, str], nginx: Nginx, tmp_path: Path
) -> None:
    app = app_server[0]
    cfg = app[FCONFIG]
    await append(app, 300)
    cp = await service.create_checkpoint(app)
    size = cp["tree_size"]
    base = f"{nginx.http_url}/log"

    status, body, cache = await get(f"{base}/checkpoint")
    assert status == 200 and "max-age=5" in cache
    head = verify_checkpoint(body.decode(), cfg.key_name, app[SIGNER].public_key())
    assert head.size >= size

    status, body, cache = await get(f"{base}/tile/0/000")
    assert status == 200 and len(body) == tiles.FULL_BYTES and "immutable" in cache
    level, idx, width = tiles.edge_tiles(head.size)[0]
    if width < tiles.WIDTH:
        status, body, cache = await get(f"{base}/{tiles.tile_path(level, idx, width)}")
        assert status == 200 and len(body) == width * 32 and "max-age=60" in cache

    for path in ("/.checkpoint.lock", "/tile/0/../checkpoint", "/tile/0/0000", "/nope", "/"):
        status, _, _ = await get(base + path)
        assert status == 404, path

    # A bundle, then more records and a newer checkpoint: the verifier proves from the
    # published tiles that the log's head extends the bundle's checkpoint.
    export = await service.export(app, 1, None)
    async with app[DB].acquire() as conn:
        row = await store.export(conn, uuid.UUID(export["id"]))
    assert row is not None
    bundle = app[EXPORTS].open(row["location"])
    await append(app, 40)
    await service.create_checkpoint(app)
    report = verify_bundle(bundle, log_url=base)
    assert report.ok and report.status("log") == "OK", report.render()

    # Tiles served wrong (a compromised mirror) fail the proof, never pass it.
    saved = {p: p.read_bytes() for p in (cfg.log_dir / "tile").rglob("*") if p.is_file()}
    try:
        for p, data in saved.items():
            p.write_bytes(bytes([data[0] ^ 1]) + data[1:])
        report = verify_bundle(bundle, log_url=base)
        assert not report.ok and report.status("log") == "FAIL", report.render()
    finally:
        for p, data in saved.items():
            p.write_bytes(data)
    assert verify_bundle(bundle, log_url=base).ok
