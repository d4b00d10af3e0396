"""Targets are decoded deterministically; PNG is the stored, metadata-free form."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from iri_engine.io import InvalidImageError, from_png, load_target, quantize, to_png


def _encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_it_resizes_the_short_side_and_centre_crops():
    # 40 wide x 20 high: left half red, right half blue, a green stripe in the middle.
    image = Image.new("RGB", (40, 20), (255, 0, 0))
    image.paste((0, 0, 255), (20, 0, 40, 20))
    image.paste((0, 255, 0), (18, 0, 22, 20))
    target = load_target(_encode(image), size=10)
    assert target.shape == (3, 10, 10) and target.dtype == torch.float32
    assert float(target.min()) >= 0.0 and float(target.max()) <= 1.0
    # The centre crop keeps the middle: the green stripe is in the centre columns.
    assert target[1, :, 4:6].mean() > 0.5
    assert target[0, :, 0].mean() > 0.5 and target[2, :, -1].mean() > 0.5


def test_it_is_deterministic():
    data = _encode(Image.effect_noise((50, 37), 60).convert("RGB"), "JPEG")
    assert torch.equal(load_target(data, size=16), load_target(data, size=16))


def test_it_converts_greyscale_and_transparent_images_to_rgb():
    grey = load_target(_encode(Image.new("L", (8, 8), 128)), size=8)
    assert grey.shape == (3, 8, 8) and torch.allclose(grey, torch.full_like(grey, 128 / 255))
    clear = load_target(_encode(Image.new("RGBA", (8, 8), (0, 0, 0, 0))), size=8)
    assert torch.allclose(clear, torch.ones_like(clear))  # transparency shown on white


def test_a_16_bit_and_a_float_gradient_keep_their_gradient_as_targets():
    """Pillow's own conversion clipped 16-bit values above 255 (white) and floats in [0, 1] to 0 (black)."""
    ramp = np.linspace(0.0, 1.0, 64)[None, :].repeat(64, axis=0)
    sixteen, floating = io.BytesIO(), io.BytesIO()
    Image.fromarray(np.rint(ramp * 65535).astype(np.uint16)).save(sixteen, format="PNG")
    Image.fromarray(ramp.astype(np.float32), mode="F").save(floating, format="TIFF")

    for data in (sixteen.getvalue(), floating.getvalue()):
        row = load_target(data, size=64)[0, 32]
        assert torch.allclose(row, torch.tensor(ramp[0], dtype=torch.float32), atol=1 / 255)


def test_it_refuses_an_animated_image():
    buffer = io.BytesIO()
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    frames[0].save(buffer, format="PNG", save_all=True, append_images=frames[1:])
    with pytest.raises(InvalidImageError, match="animated"):
        load_target(buffer.getvalue(), size=8)


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 30])
def test_it_refuses_corrupt_bytes(data):
    with pytest.raises(InvalidImageError):
        load_target(data, size=8)


def test_it_refuses_a_truncated_image():
    data = _encode(Image.effect_noise((64, 64), 60).convert("RGB"))
    with pytest.raises(InvalidImageError):
        load_target(data[: len(data) // 2], size=8)


def test_it_refuses_a_decompression_bomb_before_decoding_it():
    # A PNG header claiming 30000 x 30000 pixels (900 MP) with almost no data behind it.
    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0)
    data = (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 100)) + _chunk(b"IEND", b""))
    with pytest.raises(InvalidImageError, match="too large"):
        load_target(data, size=8)


def test_it_round_trips_8_bit_images_through_png():
    image = torch.randint(0, 256, (3, 7, 9)).float() / 255
    assert torch.equal(from_png(to_png(image)), image)


def test_it_quantises_like_a_png_reload():
    image = torch.rand(3, 5, 5)
    assert torch.equal(from_png(to_png(image)), quantize(image))


def test_it_writes_no_metadata_chunks():
    data = to_png(torch.rand(3, 4, 4))
    kinds, offset = [], 8
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset: offset + 4])
        kinds.append(data[offset + 4: offset + 8])
        offset += 12 + length
    assert set(kinds) == {b"IHDR", b"IDAT", b"IEND"}


def test_it_refuses_a_wrongly_shaped_tensor():
    with pytest.raises(ValueError, match=r"\(3, H, W\)"):
        to_png(torch.rand(1, 3, 4, 4))
