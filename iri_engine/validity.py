"""Is an IRI valid, and is it an IRI at all? Feather et al.'s null test and the job's criterion.

An IRI counts only if its activation at the matched layer is closer to the target's than the
activations of two *different* natural images ever are: Spearman rho, Pearson r and dB-SNR
(``10 log10(||a_t|| / ||a_t - a*||)``, on amplitudes as published, docs/method.md §5) must each exceed
the maximum over random pairs of different natural images; for classifiers the IRI's predicted
class must also equal the target's.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch

from iri_engine.features import cached_extractor
from iri_engine.io import quantize
from iri_engine.losses import representation_loss
from iri_engine.models import LoadedModel
from iri_engine.spec import NULL_KINDS, IriCriterion

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
    """Maxima of the three measures over ``pairs`` random pairs of different natural images.

    ``kind`` says which images made the pairs (``spec.NULL_KINDS``), so each verdict can show it.
    """

    layer: str
    spearman: float
    pearson: float
    db_snr: float
    pairs: int
    images: int
    kind: str = "targets"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> NullDistribution:
        try:
            return cls(layer=str(data["layer"]), spearman=float(data["spearman"]),
                       pearson=float(data["pearson"]), db_snr=float(data["db_snr"]),
                       pairs=int(data["pairs"]), images=int(data["images"]),
                       kind=str(data.get("kind", "targets")))  # nulls cached before kinds existed
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a null distribution: {exc}") from None


def activations(loaded: LoadedModel, layer: str, images: torch.Tensor) -> torch.Tensor:
    """g_l of (N, 3, H, W) images in [0, 1]: (N, D) float32 on the CPU, fp32, no grad."""
    extractor = cached_extractor(loaded, [layer])
    with torch.no_grad():
        chunks = [extractor.flat(chunk.to(loaded.device), layer).cpu() for chunk in images.split(_CHUNK)]
    return torch.cat(chunks)


def _pairs(labels: torch.Tensor, pairs: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Index pairs (i, j), i < j, of images with different labels: all of them if there are at
    most ``pairs``, else ``pairs`` of them drawn without replacement."""
    first, second = torch.triu_indices(len(labels), len(labels), offset=1)
    keep = labels[first] != labels[second]
    first, second = first[keep], second[keep]
    if first.numel() > pairs:
        picked = torch.randperm(first.numel(), generator=generator, device=generator.device).cpu()[:pairs]
        first, second = first[picked], second[picked]
    return first, second


def _labels(labels, count: int, kind: str) -> torch.Tensor:
    """Pairing labels: the categories for a "different_category" null (an unlabelled image, None,
    is a category of its own), every image its own otherwise."""
    own = torch.arange(count)
    if kind not in NULL_KINDS:
        raise ValueError(f"unknown null kind {kind!r}; known: {', '.join(NULL_KINDS)}")
    if labels is None or kind == "targets":
        return own
    if len(labels) != count:
        raise ValueError(f"{len(labels)} labels for {count} natural images")
    names = {name: index for index, name in enumerate(dict.fromkeys(label for label in labels if label is not None))}
    return torch.tensor([count + names[label] if label is not None else i for i, label in enumerate(labels)])


def null_distribution(loaded: LoadedModel, layer: str, natural_images: torch.Tensor, *,
                      generator: torch.Generator, pairs: int = 200, kind: str = "targets",
                      labels: Sequence | None = None) -> NullDistribution:
    """The null of docs/method.md §1 from (N, 3, H, W) natural images in [0, 1].

    ``kind`` (recorded): "targets" pairs any two different target images; "different_category"
    pairs only images whose ``labels`` differ (unlabelled ones pair with everything), so that
    near-identical members of one category cannot raise the null; "reference" is a separate set
    of natural images, paired across ``labels`` when they are given.
    """
    if natural_images.ndim != 4 or natural_images.shape[0] < 2:
        raise ValueError("the null distribution needs at least 2 natural images (N, 3, H, W)")
    first, second = _pairs(_labels(labels, natural_images.shape[0], kind), pairs, generator)
    if first.numel() == 0:
        raise ValueError("the null distribution needs two natural images of different categories")
    acts = activations(loaded, layer, quantize(natural_images))
    a, b = acts[first], acts[second]
    return NullDistribution(layer=layer, spearman=float(spearman(a, b).max()),
                            pearson=float(pearson(a, b).max()), db_snr=float(db_snr(a, b).max()),
                            pairs=int(first.numel()), images=int(acts.shape[0]), kind=kind)


def _classes(loaded: LoadedModel, images: torch.Tensor) -> list[int] | None:
    if not loaded.is_classifier:
        return None
    with torch.no_grad():
        return [int(c) for chunk in images.split(_CHUNK)
                for c in loaded(chunk.to(loaded.device)).argmax(dim=1).cpu()]


def measure(loaded: LoadedModel, layer: str, targets: torch.Tensor, iris: torch.Tensor,
            null: NullDistribution | None) -> list[dict]:
    """Validity measures of each IRI against its target (docs/method.md §1), one dict per IRI.

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


def judge(row: dict, *, criterion: IriCriterion, null: NullDistribution | None) -> dict:
    """The verdict on one IRI from its ``measure`` row: {"passes", "reasons", "criterion", "null"}.

    ``reasons`` lists every part of ``criterion`` the IRI fails (empty when it passes); the
    criterion and the null it was judged against are recorded beside them (docs/engine/option-criterion.md).
    """
    reasons = []
    bound = criterion.max_rep_loss
    if bound is not None and not (row["rep_loss"] is not None and row["rep_loss"] <= bound):
        reasons.append(f"L_rep {_show(row['rep_loss'])} is above the bound {bound:g}")
    if criterion.validity:
        reasons.extend(_validity_reasons(row, null))
    if criterion.class_agreement and row["class_agrees"] is False:
        reasons.append(f"predicted class {row['iri_class']} differs from the target's {row['target_class']}")
    return {"passes": not reasons, "reasons": reasons, "criterion": criterion.to_dict(),
            "null": None if null is None else null.to_dict()}


def _validity_reasons(row: dict, null: NullDistribution | None) -> list[str]:
    if null is None:
        return ["no null distribution to test validity against"]
    return [f"{name} {row[key]:.3g} is not above the null's maximum {getattr(null, key):.3g} ({null.kind})"
            for key, name in (("spearman", "Spearman rho"), ("pearson", "Pearson r"), ("db_snr", "dB-SNR"))
            if not row[key] > getattr(null, key)]


def _show(value: float | None) -> str:
    return "undefined" if value is None else f"{value:.4g}"


def verdicts(loaded: LoadedModel, layer: str, targets: torch.Tensor, iris: torch.Tensor, *,
             criterion: IriCriterion, null: NullDistribution | None) -> list[dict]:
    """``measure`` each IRI, then ``judge`` it: one dict per IRI, the measures plus "verdict"."""
    rows = measure(loaded, layer, targets, iris, null)
    return [{**row, "verdict": judge(row, criterion=criterion, null=null)} for row in rows]
