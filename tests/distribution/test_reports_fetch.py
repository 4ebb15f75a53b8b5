"""Report files fetched from the DSPs' report folders over SFTP, each version once."""

from __future__ import annotations

import os

from distribution import reports
from server.keys import CONFIG
from tests.distribution.conftest import DistApp, Dsps


async def test_fetch_all_copies_new_files_once(sshd: Dsps, dist_app: DistApp) -> None:
    api = await dist_app(sshd.env())
    first = b"HEAD\t2026-11\nSY02\t1\n"
    sshd.spotify.drop("/reports/DSR_PADPIDA_SPOTIFY_2026-11_1of1.tsv", first)
    sshd.spotify.drop("/reports/statement.csv", b"store,period,isrc\n")
    sshd.deezer.drop("/reports/deezer-2026-11.csv", b"store,period,isrc\ndeezer,2026-11,X\n")
    sshd.deezer.drop("/reports/upload-in-progress.csv.part", b"half")

    fetched = await reports.fetch_all(api.app)
    got = sorted((f.dsp, f.remote_name) for f in fetched)
    assert got == [
        ("deezer", "deezer-2026-11.csv"),
        ("spotify", "DSR_PADPIDA_SPOTIFY_2026-11_1of1.tsv"),
        ("spotify", "statement.csv"),
    ]
    state = api.app[CONFIG].state_dir / "distribution" / "reports"
    for f in fetched:
        assert f.path.parent == state / f.dsp
        server = sshd.spotify if f.dsp == "spotify" else sshd.deezer
        assert f.path.read_bytes() == server.path(f"/reports/{f.remote_name}").read_bytes()

    # Nothing new: nothing fetched, nothing rewritten.
    assert await reports.fetch_all(api.app) == []

    # The store re-sends a corrected file under the same name: it is a new version.
    remote = sshd.spotify.path("/reports/DSR_PADPIDA_SPOTIFY_2026-11_1of1.tsv")
    remote.write_bytes(first + b"SY02\t2\n")
    os.utime(remote, (1_800_000_000, 1_800_000_000))
    [again] = await reports.fetch_all(api.app)
    assert again.remote_name == "DSR_PADPIDA_SPOTIFY_2026-11_1of1.tsv"
    assert again.path.read_bytes() == first + b"SY02\t2\n"
    earlier = next(f for f in fetched if f.remote_name == again.remote_name)
    assert earlier.path != again.path and earlier.path.read_bytes() == first
    assert await reports.fetch_all(api.app) == []


async def test_an_unreachable_dsp_does_not_hold_up_the_others(
    sshd: Dsps, dist_app: DistApp
) -> None:
    env = sshd.env()
    env["MHC_DSP_SPOTIFY_HOST_KEY"] = sshd.deezer.host_key_line  # spotify now fails its check
    api = await dist_app(env)
    sshd.spotify.drop("/reports/a.csv", b"a")
    sshd.deezer.drop("/reports/b.csv", b"b")
    fetched = await reports.fetch_all(api.app)
    assert [(f.dsp, f.remote_name) for f in fetched] == [("deezer", "b.csv")]
    assert not (reports.folder(api.app, "spotify") / "a.csv").exists()
