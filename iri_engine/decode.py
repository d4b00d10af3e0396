"""Decoding untrusted image bytes with Pillow, and nothing else: no torch, so the web process uses
this same guard to check uploads before it stores them (docs/method.md §5, uploaded images)."""

from __future__ import annotations

import io
import warnings
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

# Largest decoded image accepted, in pixels. Checked on the header before decoding, so a
# decompression bomb is refused without allocating its pixels. 64 MP covers any camera upload.
MAX_PIXELS = 64_000_000
# Pillow's modes of one channel wider than 8 bits: 16-bit PNG/TIFF greyscale, 32-bit integer, float.
# Pillow's own convert("RGB") clips them at 255, so a 16-bit image came out white and a float one
# black; eight_bit() scales them instead.
WIDE_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
SIXTEEN_BIT_MAX = 65535


class InvalidImageError(ValueError):
    """The bytes are not a decodable, reasonably sized, single-frame image of a known range."""


def open_image(data: bytes | BinaryIO) -> Image.Image:
    """Decode ``data`` (bytes, or a seekable binary file) fully; raises InvalidImageError for empty,
    corrupt, truncated, oversized, animated or multi-page data."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise InvalidImageError("empty image data")
        data = io.BytesIO(bytes(data))
    elif not (hasattr(data, "read") and hasattr(data, "seek")):
        raise InvalidImageError("not image bytes or a binary file")
    try:
        # Pillow only warns between 1x and 2x its own limit; make that an error too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(data)
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidImageError(f"image too large: {width}x{height} pixels "
                                        f"(limit {MAX_PIXELS} pixels)")
            if getattr(image, "is_animated", False):
                # Which frame would be the target is a guess; a researcher picks it instead.
                raise InvalidImageError("an animated or multi-page image: save the one frame you mean")
            image.load()
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(f"image too large (decompression bomb guard): {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImageError(f"cannot decode image: {exc}") from None
    return eight_bit(image)


def eight_bit(image: Image.Image) -> Image.Image:
    """The image with 8 bits per channel: 16-bit and 32-bit integer greyscale scaled from
    0..65535 to 0..255, float greyscale from [0, 1]. Any other mode is returned as it is (Pillow
    already reads 16-bit colour PNGs as 8-bit RGB). Values outside those ranges, or not finite,
    raise InvalidImageError: scaling them would be a guess."""
    if image.mode not in WIDE_MODES:
        return image
    values = np.asarray(image, dtype=np.float64)
    top = 1.0 if image.mode == "F" else SIXTEEN_BIT_MAX
    if values.size and not (np.isfinite(values).all() and values.min() >= 0 and values.max() <= top):
        kind = "a float image" if image.mode == "F" else f"a {image.mode} image"
        raise InvalidImageError(f"{kind} with values outside 0..{top:g}: save it as an 8- or 16-bit image")
    scaled = np.rint(values * (255.0 / top)).astype(np.uint8)
    return Image.fromarray(scaled)  # (H, W) uint8: mode L


def to_rgb(image: Image.Image) -> Image.Image:
    """The image upright (its EXIF orientation applied) in 8-bit RGB: the form a target is read in
    and an imported stimulus is stored in. Transparent pixels are shown on white, as a browser would."""
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # Transparent pixels carry arbitrary colour underneath.
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")
