"""Starting points x_0 of the optimisation (docs/method.md §1, "Starting points").

Each seed type is a small function registered by name; ``make_seeds`` draws with the caller's
``torch.Generator`` only, so a run is reproducible from (seed_type, shape, generator state).
Seeds are images in [0, 1] because they are stored and shown to participants (2AFC option x_0).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from iri_engine.registry import Registry

SeedFn = Callable[[tuple[int, ...], torch.Generator], torch.Tensor]
_SEEDS: Registry[SeedFn] = Registry("seed type")
register_seed = _SEEDS.register


def seed_types() -> tuple[str, ...]:
    """Names of the registered seed types (plus ``"image"``, which needs a given image)."""
    return tuple(_SEEDS) + ("image",)


def _randn(shape, generator):
    return torch.randn(shape, generator=generator, device=generator.device)


@register_seed("super-noise")
def _super_noise(shape, generator):
    # Nanda's default: N(0, 1) clipped to the image range.
    return _randn(shape, generator).clamp_(0.0, 1.0)


@register_seed("light-noise")
def _light_noise(shape, generator):
    # Nanda: 0.01 N(0, 1); clipped here because a stored seed must be a valid image.
    return _randn(shape, generator).mul_(0.01).clamp_(0.0, 1.0)


@register_seed("feather")
def _feather(shape, generator):
    # Feather et al.: N(0.5, 0.05^2), clipped.
    return _randn(shape, generator).mul_(0.05).add_(0.5).clamp_(0.0, 1.0)


@register_seed("black")
def _black(shape, generator):
    return torch.zeros(shape, device=generator.device)


@register_seed("white")
def _white(shape, generator):
    return torch.ones(shape, device=generator.device)


@register_seed("uniform")
def _uniform(shape, generator):
    return torch.rand(shape, generator=generator, device=generator.device)


def make_seeds(seed_type: str, *, shape: tuple[int, int, int, int], shared: bool,
               generator: torch.Generator, image: torch.Tensor | None = None) -> torch.Tensor:
    """Make starting points of ``shape`` (B, 3, H, W) in [0, 1], on the generator's device.

    ``shared``: one draw repeated for the whole batch (Nanda's one seed per run) instead of one
    draw per target. ``seed_type="image"`` uses ``image`` ((3, H, W) or (B, 3, H, W) in [0, 1]),
    another natural image, as the start.
    """
    if len(shape) != 4 or shape[1] != 3:
        raise ValueError(f"shape must be (B, 3, H, W), got {shape}")
    batch = shape[0]
    if seed_type == "image":
        return _image_seeds(image, shape, shared)
    if seed_type not in _SEEDS:
        raise ValueError(f"unknown seed type {seed_type!r}; known: {', '.join(seed_types())}")
    if image is not None:
        raise ValueError(f"seed type {seed_type!r} takes no image")
    if shared:
        one = _SEEDS[seed_type]((1, *shape[1:]), generator)
        return one.expand(batch, -1, -1, -1).clone()
    return _SEEDS[seed_type](tuple(shape), generator)


def _image_seeds(image: torch.Tensor | None, shape: tuple[int, ...], shared: bool) -> torch.Tensor:
    if image is None:
        raise ValueError("seed type 'image' needs an image")
    if image.ndim == 3:
        image = image.unsqueeze(0)
    if image.shape[1:] != tuple(shape[1:]):
        raise ValueError(f"seed image shape {tuple(image.shape)} does not match {shape}")
    if image.shape[0] == 1:
        return image.expand(shape[0], -1, -1, -1).clone().clamp_(0.0, 1.0)
    if shared or image.shape[0] != shape[0]:
        raise ValueError(f"give one seed image (shared) or one per target ({shape[0]}), "
                         f"got {image.shape[0]}")
    return image.clone().clamp_(0.0, 1.0)
