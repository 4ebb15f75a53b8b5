"""ERN 4.3 messages: releases built and validated against the XSD per second, against the
schema check alone of the same messages.

Side by side in one process, one core: (1) ours — for each release, `ern.build` of its
NewReleaseMessage for one store (50 territories, three deals), serialized to bytes and
checked by `validator.Validator` (the project's one validator, the XSD loaded once); (2) the
baseline — lxml's XMLSchema.validate of already-built trees of the same messages. The last
line is ours/baseline: the share of the time that is the schema check itself.

Usage: python bench/ern_build/run.py [--seconds 5] [--schema-dir ../shared/ddex/ern43]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from distribution import ern, validator
from distribution.ern import Credit, ErnRelease, Party

SENDER = Party("PADPIDA0000000001X", "MHC Live")
STORE = Party("PADPIDA2011072101T", "Spotify")
TERRITORIES = tuple(
    [
        "AD",
        "AE",
        "AR",
        "AT",
        "AU",
        "BE",
        "BG",
        "BR",
        "CA",
        "CH",
        "CL",
        "CN",
        "CO",
        "CZ",
        "DE",
        "DK",
        "EE",
        "EG",
        "ES",
        "FI",
        "FR",
        "GB",
        "GR",
        "HK",
        "HR",
        "HU",
        "ID",
        "IE",
        "IL",
        "IN",
        "IS",
        "IT",
        "JP",
        "KR",
        "LT",
        "LU",
        "LV",
        "MX",
        "MY",
        "NL",
        "NO",
        "NZ",
        "PE",
        "PH",
        "PL",
        "PT",
        "RO",
        "SE",
        "SG",
        "US",
    ]
)


def release(n: int) -> ErnRelease:
    """The n-th release of the run: distinct ids and titles, the same shape."""
    return ErnRelease(
        release_id=uuid.uuid4(),
        isrc=f"ZZM0126{n % 100_000:05d}",
        upc=f"{n:013d}",
        iswc=None,
        title=f"Track {n}",
        version="Radio Edit",
        artists=(Credit("Ana Lune", "MainArtist"), Credit("Bo Park", "FeaturedArtist")),
        genre="Electronic",
        release_date=dt.date(2026, 3, 1),
        label="MHC Records",
        c_line="2026 MHC Records",
        p_line="2026 MHC Records",
        explicit=False,
        territories=TERRITORIES,
        duration_ms=183_250,
        audio_format="flac",
        channels=2,
        sample_rate=44_100,
        bits_per_sample=16,
        audio_uri=f"resources/ZZM0126{n % 100_000:05d}.flac",
        audio_md5="0" * 32,
        cover_uri=f"resources/{n:013d}.jpg",
        cover_md5="1" * 32,
        cover_px=3000,
    )


def ours(check: validator.Validator, seconds: float) -> float:
    n, started = 0, time.perf_counter()
    now = dt.datetime.now(dt.UTC)
    while time.perf_counter() - started < seconds:
        root = ern.build(release(n), SENDER, STORE, f"M{n}", now)
        ern.serialize(root)
        check.check(root)
        n += 1
    return n / (time.perf_counter() - started)


def baseline(check: validator.Validator, seconds: float) -> float:
    now = dt.datetime.now(dt.UTC)
    trees = [ern.build(release(i), SENDER, STORE, f"M{i}", now) for i in range(50)]
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        assert not check.errors(trees[n % len(trees)])
        n += 1
    return n / (time.perf_counter() - started)


def main() -> None:
    default = os.environ.get("MHC_SHARED_DIR") or str(
        Path(__file__).resolve().parents[3] / "shared"
    )
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--schema-dir", type=Path, default=Path(default) / "ddex" / "ern43")
    args = parser.parse_args()
    started = time.perf_counter()
    check = validator.load(args.schema_dir)
    loaded = time.perf_counter() - started
    # Alternate halves so neither side always runs warmer.
    b1 = baseline(check, args.seconds / 2)
    o1 = ours(check, args.seconds / 2)
    o2 = ours(check, args.seconds / 2)
    b2 = baseline(check, args.seconds / 2)
    o, b = (o1 + o2) / 2, (b1 + b2) / 2
    print(f"schema loaded once in {loaded:.2f} s; {len(TERRITORIES)} territories, 3 deals")
    print(f"ern.build + serialize + validate: {o:8.1f} releases/s")
    print(f"XMLSchema.validate alone:         {b:8.1f} messages/s")
    print(f"ratio ours/validate-only: {o / b:.3f}")


if __name__ == "__main__":
    main()
