"""Cover art checks with Pillow (blocking: run in an executor): JPEG or PNG, square, big enough
for the stores, and decodable to the last pixel."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from distribution.errors import DistributionError

FORMATS = {"JPEG": "jpg", "PNG": "png"}
# Stores ask for at most 6000 px; anything far bigger is refused before it is decoded.
MAX_PIXELS = 10_000 * 10_000


@dataclass(frozen=True)
class CoverInfo:
    """The cover's format (file extension) and size."""

    extension: str
    width: int
    height: int


def check(path: Path, min_px: int) -> CoverInfo:
    """Open and fully decode the image; DistributionError says why it is refused."""
    if path.stat().st_size == 0:
        raise DistributionError("invalid_cover", "cover: the file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                fmt = img.format or ""
                width, height = img.size
                if fmt not in FORMATS:
                    raise DistributionError(
                        "invalid_cover", f"cover: {fmt or 'this'} is not JPEG or PNG"
                    )
                if width * height > MAX_PIXELS:
                    raise DistributionError("invalid_cover", "cover: the image is too large")
                img.load()
    except DistributionError:
        raise
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError, Warning):
        raise DistributionError(
            "invalid_cover", "cover: not a readable JPEG or PNG image"
        ) from None
    if width != height:
        raise DistributionError("invalid_cover", f"cover: must be square, is {width}x{height}")
    if width < min_px:
        raise DistributionError(
            "invalid_cover", f"cover: must be at least {min_px}x{min_px} px, is {width}x{height}"
        )
    return CoverInfo(FORMATS[fmt], width, height)
