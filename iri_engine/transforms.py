"""Transformation robustness: random jitter / scale / rotate (lucid defaults, docs/method.md §1, §5).

Each transform is a small callable ``(images, generator) -> images`` on (B, 3, H, W) tensors in
[0, 1]; one random draw per call applies to the whole batch (as lucid's batch ops do). They are
applied only to the input of the network and of perceptual terms, before normalisation; the
pixel regularisers see the untransformed image (docs/method.md §1).

Jitter and scale change the image size; ``fit_to_size`` closes the default pipeline by padding
(0.5 grey) or centre-cropping back to the model's input size without resampling, so spatial
layers stay comparable with the target's activation and the content keeps its scale.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch.nn import functional as F

Transform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]

# lucid's random_scale choices: 1 + (i - 5) / 50 for i in 0..10, i.e. 0.90 .. 1.10.
LUCID_SCALES = tuple(1 + (i - 5) / 50 for i in range(11))
LUCID_ANGLES = tuple(range(-10, 11))  # degrees
ZERO_ANGLE_WEIGHT = 5.0  # docs/method.md §5: "zero five times as likely" as any other angle
IMAGENET_PAD = 12  # lucid pads ImageNet-sized inputs by 12 with 0.5 first
IMAGENET_MIN_SIZE = 128  # inputs at least this wide get the ImageNet pad


def _randint(high: int, generator: torch.Generator) -> int:
    return int(torch.randint(0, high, (1,), generator=generator, device=generator.device).item())


def pad(width: int, value: float = 0.5) -> Transform:
    """Pad every side by ``width`` pixels of constant ``value``: (B,3,H,W) -> (B,3,H+2w,W+2w)."""
    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return F.pad(images, (width, width, width, width), mode="constant", value=value)
    return apply


def jitter(d: int) -> Transform:
    """Random crop shifted by an integer in [0, d) on each axis: (B,3,H,W) -> (B,3,H-d,W-d)."""
    if d < 1:
        raise ValueError(f"jitter needs d >= 1, got {d}")

    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        height, width = images.shape[-2:]
        dy, dx = _randint(d, generator), _randint(d, generator)
        return images[..., dy: dy + height - d, dx: dx + width - d]
    return apply


def random_scale(scales: Sequence[float] = LUCID_SCALES) -> Transform:
    """Resize by a factor drawn uniformly from ``scales``, bilinear: (B,3,H,W) -> (B,3,sH,sW)."""
    scales = tuple(scales)

    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        factor = scales[_randint(len(scales), generator)]
        height, width = images.shape[-2:]
        size = (max(1, round(height * factor)), max(1, round(width * factor)))
        if size == (height, width):
            return images
        return F.interpolate(images, size=size, mode="bilinear", align_corners=False)
    return apply


def angle_probabilities(angles: Sequence[int] = LUCID_ANGLES,
                        zero_weight: float = ZERO_ANGLE_WEIGHT) -> torch.Tensor:
    """Probability of each angle: weight 1 each, ``zero_weight`` for 0 degrees. Shape (len,)."""
    weights = torch.tensor([zero_weight if a == 0 else 1.0 for a in angles], dtype=torch.float64)
    return weights / weights.sum()


def rotate(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """Rotate (B,3,H,W) images about their centre, bilinear, zeros outside (as lucid)."""
    if degrees == 0:
        return images
    height, width = images.shape[-2:]
    rad = math.radians(degrees)
    cos, sin = math.cos(rad), math.sin(rad)
    # affine_grid works in [-1, 1] coordinates; the aspect terms keep the rotation rigid.
    theta = torch.tensor([[cos, -sin * height / width, 0.0], [sin * width / height, cos, 0.0]],
                         dtype=images.dtype, device=images.device)
    grid = F.affine_grid(theta.expand(images.shape[0], 2, 3), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def random_rotate(angles: Sequence[int] = LUCID_ANGLES, zero_weight: float = ZERO_ANGLE_WEIGHT) -> Transform:
    """Rotate by an integer angle drawn with ``angle_probabilities`` (docs/method.md §5)."""
    angles = tuple(angles)
    probabilities = angle_probabilities(angles, zero_weight).float()

    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        index = torch.multinomial(probabilities.to(generator.device), 1, generator=generator)
        return rotate(images, angles[int(index.item())])
    return apply


def fit_to_size(size: int, value: float = 0.5) -> Transform:
    """Centre-pad (with ``value``) or centre-crop to size x size, no resampling."""
    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        height, width = images.shape[-2:]
        pad_h, pad_w = max(0, size - height), max(0, size - width)
        if pad_h or pad_w:
            images = F.pad(images, (pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2),
                           mode="constant", value=value)
            height, width = images.shape[-2:]
        top, left = (height - size) // 2, (width - size) // 2
        return images[..., top: top + size, left: left + size]
    return apply


def compose(transforms: Sequence[Transform]) -> Transform:
    """Apply ``transforms`` in order, each with the same generator."""
    transforms = tuple(transforms)

    def apply(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for transform in transforms:
            images = transform(images, generator)
        return images
    return apply


def lucid_transforms(input_size: int) -> Transform:
    """The reference pipeline (docs/method.md §1): [pad 12 with 0.5 for ImageNet-sized inputs],
    jitter 8, random scale 0.90..1.10, random rotate -10..10 degrees, jitter 4, then
    ``fit_to_size(input_size)``."""
    steps: list[Transform] = []
    if input_size >= IMAGENET_MIN_SIZE:
        steps.append(pad(IMAGENET_PAD, 0.5))
    steps += [jitter(8), random_scale(), random_rotate(), jitter(4), fit_to_size(input_size)]
    return compose(steps)
