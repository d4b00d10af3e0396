"""Images as bytes in, bytes out: target preprocessing and the stored 8-bit PNG form.

No paths here: callers (Django storage, tests) decide where bytes go. Targets are preprocessed
deterministically (docs/method.md §5: resize the short side, centre crop; no training augmentation),
and the PNG is the form participants see and proxies score (docs/method.md §5).
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image

# The guard is torch-free so the web's upload check shares it; re-exported for the engine's callers.
from iri_engine.decode import InvalidImageError, open_image, to_rgb  # noqa: F401


def _pil_to_tensor(image: Image.Image) -> torch.Tensor:
    array = np.asarray(image, dtype=np.uint8)  # (H, W, 3)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def load_target(data: bytes, *, size: int) -> torch.Tensor:
    """Decode image bytes into a model-ready target (docs/method.md §5, target preprocessing).

    Converts to RGB (EXIF orientation applied, transparency over white), resizes the short side
    to ``size`` with antialiased bilinear resampling, centre-crops to ``size`` x ``size``.
    Deterministic. Returns a (3, size, size) float32 tensor in [0, 1].
    16-bit and float greyscale are scaled to 8 bits first (iri_engine.decode.eight_bit).
    Raises InvalidImageError for corrupt, truncated, oversized (decompression bomb) or animated
    data, and for float pixels outside [0, 1].
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    image = to_rgb(open_image(data))
    width, height = image.size
    scale = size / min(width, height)
    new_w, new_h = max(size, round(width * scale)), max(size, round(height * scale))
    # Pillow's bilinear filter widens its support when shrinking, i.e. it antialiases.
    image = image.resize((new_w, new_h), Image.Resampling.BILINEAR)
    left, top = (new_w - size) // 2, (new_h - size) // 2
    image = image.crop((left, top, left + size, top + size))
    return _pil_to_tensor(image)


def quantize(images: torch.Tensor) -> torch.Tensor:
    """Round images in [0, 1] to the 8-bit grid, as storing and reloading a PNG does.

    Any shape; values are clamped to [0, 1] first. Idempotent.
    """
    return images.detach().clamp(0.0, 1.0).mul(255.0).round().div(255.0)


def to_png(image: torch.Tensor) -> bytes:
    """Encode a (3, H, W) image in [0, 1] as 8-bit RGB PNG bytes with no metadata chunks."""
    if image.ndim != 3 or image.shape[0] != 3:
        raise ValueError(f"to_png expects a (3, H, W) tensor, got shape {tuple(image.shape)}")
    if not torch.isfinite(image).all():
        raise ValueError("to_png: image contains NaN or infinite values")
    array = image.detach().float().cpu().clamp(0, 1).mul(255).round().to(torch.uint8)
    pil = Image.fromarray(array.permute(1, 2, 0).contiguous().numpy(), mode="RGB")
    buffer = io.BytesIO()
    pil.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue()


def from_png(data: bytes) -> torch.Tensor:
    """Decode PNG (or any image) bytes to a (3, H, W) float32 tensor of the 8-bit values / 255."""
    return _pil_to_tensor(to_rgb(open_image(data)))
