"""Decoding untrusted image bytes with Pillow, and nothing else: no torch, so the web process uses
this same guard to check uploads before it stores them (docs/method.md §5, uploaded images)."""

from __future__ import annotations

import io
import warnings

from PIL import Image

# Largest decoded image accepted, in pixels. Checked on the header before decoding, so a
# decompression bomb is refused without allocating its pixels. 64 MP covers any camera upload.
MAX_PIXELS = 64_000_000


class InvalidImageError(ValueError):
    """The bytes are not a decodable, reasonably sized image."""


def open_image(data: bytes) -> Image.Image:
    """Decode ``data`` fully; raises InvalidImageError for empty, corrupt, truncated or oversized data."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) == 0:
        raise InvalidImageError("empty or non-bytes image data")
    try:
        # Pillow only warns between 1x and 2x its own limit; make that an error too.
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(bytes(data)))
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise InvalidImageError(f"image too large: {width}x{height} pixels "
                                        f"(limit {MAX_PIXELS} pixels)")
            image.load()
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImageError(f"image too large (decompression bomb guard): {exc}") from None
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InvalidImageError(f"cannot decode image: {exc}") from None
    return image
