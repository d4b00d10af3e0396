"""Loss terms and the named presets of docs/method.md §1.

Every term is a small function returning one value per example, shape (B,):
- ``representation_loss(f, f_t) = ||f - f_t||_2 / ||f_t||_2`` on flattened activations;
- ``total_variation(x, beta) = (sum dx^2 + sum dy^2)^(beta/2)``;
- ``blur_loss(x) = 0.5 * sum (x - blur3x3(x))^2`` with the blurred copy detached;
- ``l1_loss(x, c) = sum |x - c|``; ``lp_norm(x, p) = ||x||_p``.
Pixel regularisers act on the raw [0, 1] image. ``Objective`` combines weighted terms, plus the
adversarial perceptual term ``-s D(x, x_t)`` (or ``+s D(x, x_0)``) with ``s`` fixed at the first
step when unset. Presets live in a registry (a decorator that refuses duplicate names).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import torch
from torch.nn import functional as F

from iri_engine.registry import Registry
from iri_engine.spec import LOSS_PRESETS, GenerationSpec

# Reference value of s for "stay close to the seed" (Nanda's adv_*_seed losses use 10): the
# first-step auto rule is undefined there, since D(x_0, x_0) = 0 when x starts at x_0.
DEFAULT_SEED_SCALE = 10.0


def representation_loss(features: torch.Tensor, target_features: torch.Tensor) -> torch.Tensor:
    """L_rep (docs/method.md §1): (B, D), (B, D) -> (B,) normalised L2 distance, unitless."""
    features, target_features = features.flatten(1), target_features.flatten(1)
    target_norm = target_features.norm(dim=1)
    # A zero target activation makes L_rep undefined; the tiny floor turns it into a huge,
    # finite loss instead of NaN so one bad target cannot poison the batch's bookkeeping.
    return (features - target_features).norm(dim=1) / target_norm.clamp_min(torch.finfo(target_norm.dtype).tiny)


def total_variation(images: torch.Tensor, beta: float = 2.0) -> torch.Tensor:
    """TV_beta (docs/method.md §1): (B, C, H, W) -> (B,) = (sum dx^2 + sum dy^2)^(beta/2)."""
    dy = images[..., 1:, :] - images[..., :-1, :]
    dx = images[..., :, 1:] - images[..., :, :-1]
    return (dy.pow(2).sum(dim=(1, 2, 3)) + dx.pow(2).sum(dim=(1, 2, 3))).pow(beta / 2.0)


def blur3x3(images: torch.Tensor) -> torch.Tensor:
    """Per-channel 3x3 blur, centre 1 and border 0.5, normalised by the kernel mass that falls
    inside the image (so edges are not darkened). (B, C, H, W) -> same shape."""
    channels = images.shape[1]
    kernel = torch.full((3, 3), 0.5, dtype=images.dtype, device=images.device)
    kernel[1, 1] = 1.0
    weight = kernel.expand(channels, 1, 3, 3)
    blurred = F.conv2d(images, weight, padding=1, groups=channels)
    mass = F.conv2d(torch.ones_like(images[:1]), weight, padding=1, groups=channels)
    return blurred / mass


def blur_loss(images: torch.Tensor) -> torch.Tensor:
    """Blur regulariser (docs/method.md §1): (B, C, H, W) -> (B,) = 0.5 sum (x - blur(x))^2, where
    the blurred copy carries no gradient (it is a moving target, not part of the objective)."""
    with torch.no_grad():
        blurred = blur3x3(images)
    return 0.5 * (images - blurred).pow(2).sum(dim=(1, 2, 3))


def l1_loss(images: torch.Tensor, center: float = 0.5) -> torch.Tensor:
    """L1_c (docs/method.md §1): (B, ...) -> (B,) = sum |x - c|."""
    return (images - center).abs().flatten(1).sum(dim=1)


def lp_norm(images: torch.Tensor, p: float = 6.0) -> torch.Tensor:
    """p-norm (docs/method.md §1, Mahendran & Vedaldi p = 6): (B, ...) -> (B,) = ||x||_p."""
    return torch.linalg.vector_norm(images.flatten(1), ord=p, dim=1)


# Pixel regularisers by the names GenerationSpec.loss_weights uses ("rep" is L_rep itself).
PIXEL_TERMS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "tv": lambda x: total_variation(x, beta=2.0),
    "blur": blur_loss,
    "l1": lambda x: l1_loss(x, center=0.5),
    "l6": lambda x: lp_norm(x, p=6.0),
}


class PerceptualDistance(Protocol):
    """A differentiable image distance standing in for a human (e.g. LPIPS)."""

    name: str

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W), (B, 3, H, W) in [0, 1] -> (B,) distances."""


@dataclass(frozen=True)
class Preset:
    """Weights of L_rep and pixel terms, and which reference the perceptual term uses."""

    weights: dict[str, float]
    perceptual: str | None = None  # None, "target" (-s D(x, x_t)) or "seed" (+s D(x, x_0))


_PRESETS: Registry[Callable[[], Preset]] = Registry("loss preset")
register_preset = _PRESETS.register


def preset_names() -> tuple[str, ...]:
    return tuple(_PRESETS)


def get_preset(name: str) -> Preset:
    return _PRESETS[name]()


# The reference weights (docs/method.md §1 table; Nanda et al.'s LOSSES_MAPPING).
@register_preset("reg_free")
def _reg_free() -> Preset:
    return Preset({"rep": 1.0})


@register_preset("freq")
def _freq() -> Preset:
    return Preset({"rep": 10.0, "tv": 0.0005, "blur": 0.0005, "l1": 0.00005})


@register_preset("freq_tv")
def _freq_tv() -> Preset:
    return Preset({"rep": 10.0, "tv": 0.0005})


@register_preset("freq_blur")
def _freq_blur() -> Preset:
    return Preset({"rep": 10.0, "blur": 0.0005})


@register_preset("freq_lp")
def _freq_lp() -> Preset:
    return Preset({"rep": 10.0, "l1": 0.00005})


@register_preset("freq_tv_l6")
def _freq_tv_l6() -> Preset:
    return Preset({"rep": 10.0, "tv": 0.0005, "l6": 1.0})


@register_preset("adversarial")
def _adversarial() -> Preset:
    return Preset({"rep": 1.0}, perceptual="target")


@register_preset("adversarial_seed")
def _adversarial_seed() -> Preset:
    return Preset({"rep": 1.0}, perceptual="seed")


if set(_PRESETS) != set(LOSS_PRESETS):  # the torch-free list in spec.py must stay in step
    raise RuntimeError(f"spec.LOSS_PRESETS {LOSS_PRESETS} and the preset registry {tuple(_PRESETS)} disagree")


@dataclass
class LossValues:
    """One evaluation of the objective: each (B,); ``total`` carries the graph."""

    total: torch.Tensor
    rep: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)


@dataclass
class Objective:
    """``L(x) = w_rep L_rep + sum_k w_k R_k(x) [-/+ s D(x, ref)]`` (docs/method.md §1).

    ``scale`` is ``s``; when None and the perceptual reference is the target it is fixed at the
    first call as ``mean(L_rep) / mean(D)`` (both terms start equal) and then kept.
    """

    weights: dict[str, float]
    perceptual: PerceptualDistance | None = None
    reference: str | None = None  # "target" or "seed"
    scale: float | None = None

    def __call__(self, *, image: torch.Tensor, features: torch.Tensor, target_features: torch.Tensor,
                 perceptual_pair: tuple[torch.Tensor, torch.Tensor] | None = None,
                 scale_factor: torch.Tensor | None = None) -> LossValues:
        """``image`` (B,3,H,W) raw in [0,1]; ``features``/``target_features`` (B, D);
        ``perceptual_pair``: (transformed image, transformed reference) for the D term;
        ``scale_factor`` (B,): per-example multiplier of ``s`` (the IRI constraint's schedule)."""
        rep = representation_loss(features, target_features)
        total = self.weights.get("rep", 0.0) * rep
        terms = {"rep": rep.detach()}
        for name, weight in self.weights.items():
            if name != "rep" and weight != 0.0:
                value = PIXEL_TERMS[name](image)
                terms[name] = value.detach()
                total = total + weight * value
        if self.reference is not None:
            distance = self.perceptual(*perceptual_pair).to(rep.device)  # D may live on another device
            terms["perceptual"] = distance.detach()
            weight = self._signed_scale(rep, distance)
            total = total + (weight if scale_factor is None else weight * scale_factor) * distance
        return LossValues(total=total, rep=rep.detach(), terms=terms)

    def _signed_scale(self, rep: torch.Tensor, distance: torch.Tensor) -> float:
        if self.scale is None:
            if self.reference == "seed":
                self.scale = DEFAULT_SEED_SCALE
            else:
                mean_distance = float(distance.detach().mean())
                if not mean_distance > 0:
                    raise ValueError("cannot fix the adversarial scale: the perceptual distance to "
                                     "the target is 0 at the first step (seed equals target?); "
                                     "set adversarial_scale")
                self.scale = float(rep.detach().mean()) / mean_distance
        # docs/method.md §1: L_rep - s D(x, x_t) pushes away from the target; + s D(x, x_0) stays near x_0.
        return -self.scale if self.reference == "target" else self.scale


def build_objective(spec: GenerationSpec, perceptual: PerceptualDistance | None = None) -> Objective:
    """The objective of ``spec``: its preset's weights, overridden by ``spec.loss_weights``."""
    preset = get_preset(spec.loss)
    weights = dict(preset.weights)
    weights.update(spec.loss_weights or {})
    unknown = set(weights) - {"rep", *PIXEL_TERMS}
    if unknown:
        raise ValueError(f"unknown loss term(s) {sorted(unknown)}")
    if preset.perceptual is not None and perceptual is None:
        raise ValueError(f"loss {spec.loss!r} needs a perceptual distance (pass perceptual=...)")
    return Objective(weights={k: v for k, v in weights.items() if v != 0.0},
                     perceptual=perceptual if preset.perceptual else None,
                     reference=preset.perceptual, scale=spec.adversarial_scale)
