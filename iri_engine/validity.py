"""Is an IRI valid? Feather et al.'s null-distribution test (science.md §1, "Validity").

An IRI counts only if its activation at the matched layer is closer to the target's than the
activations of two *different* natural images ever are: Spearman rho, Pearson r and dB-SNR
(``10 log10(||a_t|| / ||a_t - a*||)``, on amplitudes as published, science.md §5) must each exceed
the maximum over random pairs of different natural images; for classifiers the IRI's predicted
class must also equal the target's.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch

from iri_engine.features import cached_extractor
from iri_engine.io import quantize
from iri_engine.losses import representation_loss
from iri_engine.models import LoadedModel

# dB-SNR of identical activations is +infinity, which JSON (and PostgreSQL jsonb) cannot hold;
# it is reported as this many dB instead. Far above any float32 distinguishable difference.
DB_SNR_CAP = 300.0
_CHUNK = 32  # images per forward pass when measuring activations


def _ranks(values: torch.Tensor) -> torch.Tensor:
    """Average ranks (ties share the mean of their positions) of a 1-D tensor, float64."""
    ordered, order = torch.sort(values)
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0).double()
    mean_rank = ends - (counts.double() + 1) / 2  # 0-based mean position of each tie group
    ranks = torch.empty_like(ends[inverse])
    ranks[order] = mean_rank[inverse]
    return ranks


def pearson(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson r of (N, D) and (N, D) -> (N,) float64; 0 where a row is constant."""
    a, b = a.double(), b.double()
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    denominator = a.norm(dim=1) * b.norm(dim=1)
    r = (a * b).sum(dim=1) / denominator.clamp_min(1e-300)
    return torch.where(denominator > 0, r, torch.zeros_like(r))


def spearman(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Row-wise Spearman rho (Pearson r of tie-averaged ranks): (N, D), (N, D) -> (N,)."""
    ranks_a = torch.stack([_ranks(row) for row in a.double()])
    ranks_b = torch.stack([_ranks(row) for row in b.double()])
    return pearson(ranks_a, ranks_b)


def db_snr(target: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """Row-wise ``10 log10(||a_t|| / ||a_t - a||)`` (Feather, on amplitudes): (N, D) x2 -> (N,).

    Identical rows give DB_SNR_CAP instead of infinity.
    """
    signal = target.double().norm(dim=1)
    noise = (target.double() - other.double()).norm(dim=1)
    value = 10.0 * torch.log10(signal / noise)
    return torch.where(noise > 0, value, torch.full_like(value, DB_SNR_CAP)).clamp(max=DB_SNR_CAP)


@dataclass(frozen=True)
class NullDistribution:
    """Maxima of the three measures over ``pairs`` random pairs of different natural images."""

    layer: str
    spearman: float
    pearson: float
    db_snr: float
    pairs: int
    images: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NullDistribution:
        try:
            return cls(layer=str(data["layer"]), spearman=float(data["spearman"]),
                       pearson=float(data["pearson"]), db_snr=float(data["db_snr"]),
                       pairs=int(data["pairs"]), images=int(data["images"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a null distribution: {exc}") from None


def activations(loaded: LoadedModel, layer: str, images: torch.Tensor) -> torch.Tensor:
    """g_l of (N, 3, H, W) images in [0, 1]: (N, D) float32 on the CPU, fp32, no grad."""
    extractor = cached_extractor(loaded, [layer])
    with torch.no_grad():
        chunks = [extractor.flat(chunk.to(loaded.device), layer).cpu() for chunk in images.split(_CHUNK)]
    return torch.cat(chunks)


def _pairs(count: int, pairs: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs (i, j), i != j: all of them if there are at most ``pairs``, else random ones."""
    if count * (count - 1) // 2 <= pairs:
        first, second = torch.triu_indices(count, count, offset=1)
        return first, second
    first = torch.randint(0, count, (pairs,), generator=generator, device=generator.device).cpu()
    second = torch.randint(0, count - 1, (pairs,), generator=generator, device=generator.device).cpu()
    return first, second + (second >= first).long()  # skip i itself: j uniform over the others


def null_distribution(loaded: LoadedModel, layer: str, natural_images: torch.Tensor, *,
                      generator: torch.Generator, pairs: int = 200) -> NullDistribution:
    """The null of science.md §1 from (N, 3, H, W) natural images in [0, 1], N >= 2."""
    if natural_images.ndim != 4 or natural_images.shape[0] < 2:
        raise ValueError("the null distribution needs at least 2 natural images (N, 3, H, W)")
    acts = activations(loaded, layer, quantize(natural_images))
    first, second = _pairs(acts.shape[0], pairs, generator)
    a, b = acts[first], acts[second]
    return NullDistribution(layer=layer, spearman=float(spearman(a, b).max()),
                            pearson=float(pearson(a, b).max()), db_snr=float(db_snr(a, b).max()),
                            pairs=int(first.numel()), images=int(acts.shape[0]))


def _classes(loaded: LoadedModel, images: torch.Tensor) -> list[int] | None:
    if not loaded.is_classifier:
        return None
    with torch.no_grad():
        return [int(c) for chunk in images.split(_CHUNK)
                for c in loaded(chunk.to(loaded.device)).argmax(dim=1).cpu()]


def measure(loaded: LoadedModel, layer: str, targets: torch.Tensor, iris: torch.Tensor,
            null: NullDistribution | None) -> list[dict]:
    """Validity measures of each IRI against its target (science.md §1), one dict per IRI.

    targets, iris: (B, 3, H, W) in [0, 1]; both are rounded to 8 bits first, so what is measured
    is the stored PNG. Keys: spearman, pearson, db_snr, rep_loss, passes (None without a null),
    target_class, iri_class, class_agrees (None for non-classifiers). All values are JSON-safe.
    """
    if targets.shape != iris.shape:
        raise ValueError(f"targets {tuple(targets.shape)} and iris {tuple(iris.shape)} differ in shape")
    if null is not None and null.layer != layer:
        raise ValueError(f"the null distribution is for layer {null.layer!r}, not {layer!r}")
    targets, iris = quantize(targets), quantize(iris)
    a_t, a_i = activations(loaded, layer, targets), activations(loaded, layer, iris)
    rho, r, snr = spearman(a_t, a_i), pearson(a_t, a_i), db_snr(a_t, a_i)
    rep = representation_loss(a_i, a_t)
    target_classes, iri_classes = _classes(loaded, targets), _classes(loaded, iris)
    return [_row(i, rho, r, snr, rep, target_classes, iri_classes, null) for i in range(len(iris))]


def _row(i, rho, r, snr, rep, target_classes, iri_classes, null) -> dict:
    agrees = None if target_classes is None else target_classes[i] == iri_classes[i]
    passes = None
    if null is not None:
        passes = bool(rho[i] > null.spearman and r[i] > null.pearson and snr[i] > null.db_snr
                      and agrees is not False)
    return {"spearman": float(rho[i]), "pearson": float(r[i]), "db_snr": float(snr[i]),
            "rep_loss": _finite(float(rep[i])), "passes": passes,
            "target_class": None if target_classes is None else target_classes[i],
            "iri_class": None if iri_classes is None else iri_classes[i], "class_agrees": agrees}


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
