"""Typed, frozen specifications of a model and of a generation request.

Both round-trip through JSON (``to_dict()`` / ``from_dict()``). ``from_dict`` is the edge where
untrusted configuration is validated once (docs/conventions.md §8): every problem raises ``SpecError``
naming the offending field. This module imports no torch, so the web process can validate specs
without loading it.

The option values mirror docs/method.md §1 (loss presets, seed types, optimisers) and §5.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

# Names of the loss presets of docs/method.md §1; iri_engine.losses registers one builder per name
# (a test keeps the two in step, so this torch-free list can be used for validation).
LOSS_PRESETS = (
    "reg_free",
    "freq",
    "freq_tv",
    "freq_blur",
    "freq_lp",
    "freq_tv_l6",
    "adversarial",
    "adversarial_seed",
)
# Terms whose weight ``loss_weights`` may set; the perceptual terms are scaled by
# ``adversarial_scale`` instead (docs/method.md §1).
LOSS_TERMS = ("rep", "tv", "blur", "l1", "l6")
SEED_TYPES = ("super-noise", "light-noise", "feather", "black", "white", "uniform", "image")
OPTIMIZERS = ("ngd", "ngd_staged", "adam")
KEEP_CHOICES = ("best", "last")
PARAMETERIZATIONS = ("pixel", "fourier")
PRECISIONS = ("auto", "fp32")
# Where validity's null takes its pairs of different natural images (docs/engine/validity.md):
# the job's targets, targets of different categories (unlabelled images count as categories of
# their own), or a separate reference set the caller passes.
NULL_KINDS = ("different_category", "targets", "reference")
# An IRI's L_rep (on its stored 8-bit PNG) must be at most this by default: 10% of the target
# activation's norm, i.e. a dB-SNR of at least 10 dB (docs/engine/option-criterion.md).
DEFAULT_MAX_REP_LOSS = 0.1

# ImageNet's per-channel normalisation (docs/method.md §5): the usual mean/std of a registered model.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

MAX_INPUT_SIZE = 1024  # pixels; far beyond any model we serve, stops absurd allocations early
MAX_ITERATIONS = 1_000_000


class SpecError(ValueError):
    """A specification is malformed; the message names the field at fault."""


def _check_keys(cls: type, data: Any) -> dict:
    if not isinstance(data, dict):
        raise SpecError(f"{cls.__name__}: expected a JSON object, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise SpecError(f"{cls.__name__}: unknown field(s) {', '.join(unknown)}; "
                        f"allowed: {', '.join(sorted(names))}")
    required = {f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    missing = sorted(required - set(data))
    if missing:
        raise SpecError(f"{cls.__name__}: missing field(s) {', '.join(missing)}")
    return data


def _int(field: str, value: Any, *, low: int, high: int | None = None) -> int:
    # bool is an int subclass in Python; a JSON true must not pass as 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecError(f"{field}: expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"between {low} and {high}"
        raise SpecError(f"{field}: must be {bound}, got {value}")
    return value


def _float(field: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise SpecError(f"{field}: expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise SpecError(f"{field}: must be > 0, got {value}")
    return float(value)


def _choice(field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise SpecError(f"{field}: {value!r} is not one of {', '.join(choices)}")
    return value


def _bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{field}: expected true or false, got {value!r}")
    return value


def _triple(field: str, value: Any, *, positive: bool) -> tuple[float, float, float]:
    if not isinstance(value, (list, tuple)) or len(value) != 3:
        raise SpecError(f"{field}: expected 3 numbers (one per RGB channel), got {value!r}")
    return tuple(_float(f"{field}[{i}]", v, positive=positive) for i, v in enumerate(value))


@dataclass(frozen=True)
class ModelSpec:
    """Which network to load and how its inputs are normalised (docs/method.md §5, normalisation).

    ``architecture`` is a torchvision classification model name, ``"timm:<name>"``,
    ``"installed:<entry point>"`` (``iri_engine.architectures``) or ``"torchscript"``;
    ``weights_path`` a local TorchScript archive, ``.safetensors`` file or state_dict
    (``.pt``/``.pth``), or None for a random init from ``init_seed`` (demos and tests);
    ``input_size`` the square side in pixels; ``mean``/``std`` per RGB channel on [0, 1] pixels.
    """

    architecture: str
    weights_path: str | None
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    num_classes: int | None = None
    init_seed: int = 0

    def __post_init__(self) -> None:
        # Coerce lists (from JSON) to tuples so specs stay hashable and compare equal.
        object.__setattr__(self, "mean", tuple(self.mean))
        object.__setattr__(self, "std", tuple(self.std))

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``ModelSpec.from_dict(spec.to_dict()) == spec``."""
        data = dataclasses.asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        return data

    @classmethod
    def from_dict(cls, data: Any) -> ModelSpec:
        """Validate ``data`` (e.g. parsed JSON) and build a spec; raises SpecError."""
        data = _check_keys(cls, data)
        arch = data["architecture"]
        if not isinstance(arch, str) or not arch.strip():
            raise SpecError(f"architecture: expected a non-empty name, got {arch!r}")
        weights = data["weights_path"]
        if weights is not None and (not isinstance(weights, str) or not weights):
            raise SpecError(f"weights_path: expected a file path or null, got {weights!r}")
        if arch == "torchscript" and weights is None:
            raise SpecError("weights_path: a torchscript model needs its archive file")
        num_classes = data.get("num_classes")
        if num_classes is not None:
            num_classes = _int("num_classes", num_classes, low=1)
        return cls(
            architecture=arch,
            weights_path=weights,
            input_size=_int("input_size", data["input_size"], low=8, high=MAX_INPUT_SIZE),
            mean=_triple("mean", data["mean"], positive=False),
            std=_triple("std", data["std"], positive=True),
            num_classes=num_classes,
            init_seed=_int("init_seed", data.get("init_seed", 0), low=0),
        )


@dataclass(frozen=True)
class IriCriterion:
    """When a generated image counts as an IRI (docs/engine/option-criterion.md; docs/method.md §1).

    ``max_rep_loss``: the largest L_rep of the stored image (None: no bound); ``validity``:
    Feather's null test must pass (Spearman, Pearson and dB-SNR above the null's maxima);
    ``class_agreement``: for classifiers, the IRI's predicted class must be the target's;
    ``null``: which pairs of natural images make the null (one of NULL_KINDS).
    """

    max_rep_loss: float | None = DEFAULT_MAX_REP_LOSS
    validity: bool = True
    class_agreement: bool = True
    null: str = "different_category"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> IriCriterion:
        """Validate ``data`` (missing fields take their defaults); raises SpecError."""
        if not isinstance(data, dict):
            raise SpecError(f"criterion: expected a JSON object, got {type(data).__name__}")
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise SpecError(f"criterion: unknown field(s) {', '.join(unknown)}")
        bound = data.get("max_rep_loss", DEFAULT_MAX_REP_LOSS)
        return cls(max_rep_loss=None if bound is None else _float("criterion.max_rep_loss", bound, positive=True),
                   validity=_bool("criterion.validity", data.get("validity", True)),
                   class_agreement=_bool("criterion.class_agreement", data.get("class_agreement", True)),
                   null=_choice("criterion.null", data.get("null", "different_category"), NULL_KINDS))


@dataclass(frozen=True)
class GenerationSpec:
    """How to make IRIs (docs/method.md §1): loss preset, seed, optimiser, parameterisation, options.

    ``layers`` are feature-extraction node names (or module names) of the model; ``iterations``
    counts gradient steps; ``step_size`` is eta of the normalised step (the learning rate for
    Adam); ``adversarial_scale`` is ``s`` (None: fixed at the first step, docs/method.md §1).
    """

    layers: tuple[str, ...]
    loss: str = "reg_free"
    loss_weights: dict | None = None
    adversarial_scale: float | None = None
    seed_type: str = "super-noise"
    seed_shared: bool = True
    iterations: int = 1000
    step_size: float = 1.0
    optimizer: str = "ngd"
    stages: int = 8
    keep: str = "best"
    parameterization: str = "pixel"
    transforms: bool = False
    fake_relu: bool = False
    precision: str = "auto"
    random_seed: int = 0
    criterion: IriCriterion = IriCriterion()

    def __post_init__(self) -> None:
        object.__setattr__(self, "layers", tuple(self.layers))
        if isinstance(self.criterion, dict):
            object.__setattr__(self, "criterion", IriCriterion.from_dict(self.criterion))

    def to_dict(self) -> dict:
        """A JSON-ready dict; ``GenerationSpec.from_dict(spec.to_dict()) == spec``."""
        data = dataclasses.asdict(self)
        data["layers"] = list(self.layers)
        data["loss_weights"] = dict(self.loss_weights) if self.loss_weights is not None else None
        return data

    @classmethod
    def from_dict(cls, data: Any) -> GenerationSpec:
        """Validate ``data`` (e.g. parsed JSON) and build a spec; raises SpecError."""
        data = _check_keys(cls, data)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        get = lambda name: data.get(name, defaults.get(name))  # noqa: E731
        spec = cls(
            layers=_layers(data["layers"]),
            loss=_choice("loss", get("loss"), LOSS_PRESETS),
            loss_weights=_loss_weights(get("loss_weights")),
            adversarial_scale=_scale(get("adversarial_scale")),
            seed_type=_choice("seed_type", get("seed_type"), SEED_TYPES),
            seed_shared=_bool("seed_shared", get("seed_shared")),
            iterations=_int("iterations", get("iterations"), low=1, high=MAX_ITERATIONS),
            step_size=_float("step_size", get("step_size"), positive=True),
            optimizer=_choice("optimizer", get("optimizer"), OPTIMIZERS),
            stages=_int("stages", get("stages"), low=1, high=64),
            keep=_choice("keep", get("keep"), KEEP_CHOICES),
            parameterization=_choice("parameterization", get("parameterization"), PARAMETERIZATIONS),
            transforms=_bool("transforms", get("transforms")),
            fake_relu=_bool("fake_relu", get("fake_relu")),
            precision=_choice("precision", get("precision"), PRECISIONS),
            random_seed=_int("random_seed", get("random_seed"), low=0),
            criterion=IriCriterion.from_dict(data.get("criterion", {})),
        )
        if spec.optimizer == "ngd_staged" and spec.stages > spec.iterations:
            raise SpecError(f"stages: {spec.stages} stages need at least as many iterations "
                            f"(got {spec.iterations})")
        return spec


def _layers(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)) or not value:
        raise SpecError(f"layers: expected a non-empty list of layer names, got {value!r}")
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip():
            raise SpecError(f"layers[{i}]: expected a layer name, got {name!r}")
    if len(set(value)) != len(value):
        raise SpecError(f"layers: duplicate names in {list(value)!r}")
    return tuple(value)


def _loss_weights(value: Any) -> dict | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise SpecError(f"loss_weights: expected an object of term -> weight, got {value!r}")
    for term, weight in value.items():
        if term not in LOSS_TERMS:
            hint = " (the perceptual term is scaled by adversarial_scale)" if "percep" in str(term) else ""
            raise SpecError(f"loss_weights: unknown term {term!r}; allowed: {', '.join(LOSS_TERMS)}{hint}")
        _float(f"loss_weights.{term}", weight)
    return {term: float(weight) for term, weight in value.items()}


def _scale(value: Any) -> float | None:
    return None if value is None else _float("adversarial_scale", value)
