"""The batched optimisation loop that turns targets into IRIs (docs/method.md §1 and §5).

Each example of the batch is optimised independently (eval-mode network, per-example losses and
per-example step norms), so a batch of B targets gives the same IRIs as B runs of one target with
the same seeds. The step rules:
- ``ngd``: ``x <- clamp(x - eta * grad / (||grad||_2 + 1e-10))``, norm per example (Nanda);
- ``ngd_staged``: the same, eta halved at the start of each of ``stages`` equal stages after the
  first (Feather: 8 stages, last iterate kept);
- ``adam``: torch.optim.Adam with learning rate ``step_size``, then the same projection.
With ``keep="best"`` each example keeps its lowest-loss iterate, the loss being evaluated once
more after the last step before choosing (docs/method.md §5).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from iri_engine.features import FeatureExtractor, autocast_dtype, cached_extractor
from iri_engine.losses import LossValues, Objective, PerceptualDistance, build_objective, representation_loss
from iri_engine.models import LoadedModel, check_layers
from iri_engine.params import Parameterization, make_parameterization
from iri_engine.seeds import make_seeds
from iri_engine.spec import GenerationSpec
from iri_engine.transforms import Transform, lucid_transforms

GRAD_NORM_EPS = 1e-10  # docs/method.md §5: the normalised step divides by ||grad|| + 1e-10
MAX_CURVE_POINTS = 200  # loss-curve points kept per run, evenly spaced
PROGRESS_CALLS = 100  # the progress callback is called at least about this often per run


class GenerationCancelled(Exception):
    """The progress callback returned False; no result is produced."""


class GenerationDiverged(ValueError):
    """The loss became NaN or infinite: every later step would be NaN too, so the run stops."""


@dataclass
class Progress:
    """Reported to the progress callback: ``loss`` is the mean total loss over the batch."""

    step: int
    total: int
    loss: float


@dataclass
class GenerationResult:
    """IRIs and their provenance. Images are (B, 3, H, W) in [0, 1] on the CPU.

    ``final_rep_loss`` (B,): L_rep of the kept iterate, recomputed in fp32 without transforms.
    ``loss_curve``: per recorded step (at most ~200, evenly spaced, the last after the final
    step), the per-example L_rep at that step, in the loop's precision at that step (bf16 in the
    first, fast phase under "auto" where the device has it; fp32 from ``fp32_from_step``). ``adversarial_scale``: the ``s`` used, if any.
    """

    iris: torch.Tensor
    seeds: torch.Tensor
    final_rep_loss: torch.Tensor
    loss_curve: list[list[float]]
    optimizer: str
    wall_seconds: float
    layer: str = ""
    adversarial_scale: float | None = None
    curve_steps: list[int] = field(default_factory=list)
    # Under precision "auto" with bf16: the step from which the network ran in fp32 (None: it
    # never ran in bf16). Provenance worth storing beside the configuration.
    fp32_from_step: int | None = None


StepRule = Callable[[torch.Tensor, torch.Tensor, int], None]


def normalized_step(variable: torch.Tensor, grad: torch.Tensor, eta: float) -> None:
    """In place: ``variable -= eta * grad / (||grad||_2 + 1e-10)``, norm per example over all
    remaining dimensions (docs/method.md §1, §5). variable, grad: (B, ...)."""
    norms = torch.linalg.vector_norm(grad.flatten(1), dim=1)
    shape = (-1,) + (1,) * (grad.ndim - 1)
    variable.sub_(grad * (eta / (norms + GRAD_NORM_EPS)).view(shape))


def stage_step_size(eta: float, step: int, iterations: int, stages: int) -> float:
    """Feather's schedule: stage k of ``stages`` equal stages runs at eta / 2^k."""
    stage = min(stages - 1, step * stages // iterations)
    return eta * 0.5 ** stage


def make_step_rule(spec: GenerationSpec, variable: torch.Tensor) -> StepRule:
    """The update of ``spec.optimizer`` as ``rule(variable, grad, step)`` (in place)."""
    if spec.optimizer == "ngd":
        return lambda var, grad, step: normalized_step(var, grad, spec.step_size)
    if spec.optimizer == "ngd_staged":
        return lambda var, grad, step: normalized_step(
            var, grad, stage_step_size(spec.step_size, step, spec.iterations, spec.stages))
    if spec.optimizer == "adam":
        adam = torch.optim.Adam([variable], lr=spec.step_size)

        def adam_rule(var: torch.Tensor, grad: torch.Tensor, step: int) -> None:
            var.grad = grad
            adam.step()
            var.grad = None
        return adam_rule
    raise ValueError(f"unknown optimizer {spec.optimizer!r}")


@dataclass
class _Run:
    """Everything one generation needs, fixed before the loop."""

    extractor: FeatureExtractor  # the loop's: bf16 autocast where it pays
    exact_extractor: FeatureExtractor  # fp32: the target's activation and the stored L_rep
    layer: str
    param: Parameterization
    objective: Objective
    target_features: torch.Tensor  # (B, D)
    targets: torch.Tensor  # (B, 3, H, W) on device
    seeds: torch.Tensor  # (B, 3, H, W) on device
    transform: Transform | None
    constraint: _Constraint | None  # the adversarial presets' L_rep bound, if any

    def kept_key(self, values: LossValues) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(key, feasible, fallback) for _Best: the objective; under the IRI constraint, the
        adversarial aim (D away from the target, or to the seed) among iterates within the bound."""
        if self.constraint is None:
            return values.total, None, None
        distance = values.terms["perceptual"]
        key = -distance if self.objective.reference == "target" else distance
        return key, self.constraint.feasible(values.rep), values.rep


def _evaluate(run: _Run, variable: torch.Tensor, generator: torch.Generator) -> tuple[LossValues, torch.Tensor]:
    """Objective at ``variable``; returns the loss values and the (graph-carrying) image."""
    image = run.param.to_image(variable)
    return _evaluate_image(run, image, generator), image


def _evaluate_image(run: _Run, image: torch.Tensor, generator: torch.Generator) -> LossValues:
    """Objective at ``image`` (B, 3, H, W) in [0, 1], with the loop's current extractor."""
    reference = None
    if run.objective.reference is not None:
        reference = run.targets if run.objective.reference == "target" else run.seeds
    net_input = image
    if run.transform is not None:
        # Network and perceptual inputs only (docs/method.md §1); one draw for image and reference,
        # so the perceptual distance compares aligned views.
        stacked = image if reference is None else torch.cat([image, reference])
        stacked = run.transform(stacked, generator)
        net_input, reference = (stacked, None) if reference is None else stacked.split(image.shape[0])
    features = run.extractor.flat(net_input, run.layer)
    pair = None if reference is None else (net_input, reference)
    factor = None if run.constraint is None else run.constraint.factor
    return run.objective(image=image, features=features, target_features=run.target_features,
                         perceptual_pair=pair, scale_factor=factor)


class _Best:
    """Per-example kept iterate, updated without host syncs: the lowest ``key`` among iterates
    that are ``feasible``; until an example has a feasible one, its lowest ``fallback``."""

    def __init__(self, images: torch.Tensor) -> None:
        batch, device = images.shape[0], images.device
        self.images = images.detach().clone()
        self.key = torch.full((batch,), math.inf, device=device)
        self.fallback = torch.full((batch,), math.inf, device=device)
        self.found = torch.zeros(batch, dtype=torch.bool, device=device)

    def update(self, images: torch.Tensor, key: torch.Tensor, feasible: torch.Tensor | None = None,
               fallback: torch.Tensor | None = None) -> None:
        key = key.detach()
        if feasible is None:
            feasible, fallback = torch.ones_like(self.found), key
        # Comparisons with NaN are False, so a NaN never counts as an improvement.
        new_found = feasible & (~self.found | (key < self.key))
        new_fallback = ~self.found & ~feasible & (fallback.detach() < self.fallback)
        self.key = torch.where(new_found, key, self.key)
        self.fallback = torch.where(new_fallback, fallback.detach(), self.fallback)
        self.found = self.found | feasible
        self.images = torch.where((new_found | new_fallback).view(-1, 1, 1, 1), images.detach(), self.images)

    def rescore(self, key: torch.Tensor) -> None:
        """Replace the kept iterates' keys (e.g. by their fp32 values when the precision changes)."""
        self.key = torch.where(self.found, key.detach(), self.key)


# The IRI constraint of the adversarial presets (docs/engine/option-criterion.md): per example, s is
# multiplied by SCALE_DOWN after each step whose L_rep is above the bound and by SCALE_UP (up to
# the preset's s) after each step below it, never under SCALE_FLOOR times s. The loop aims at
# CONSTRAINT_MARGIN times the bound: rounding the kept image to 8 bits moves its L_rep a little.
SCALE_DOWN, SCALE_UP, SCALE_FLOOR = 0.9, 1.05, 1e-3
CONSTRAINT_MARGIN = 0.9


class _Constraint:
    """L_rep <= bound for the adversarial presets: the scale schedule and the feasibility test."""

    def __init__(self, bound: float, batch: int, device: torch.device) -> None:
        self.bound = CONSTRAINT_MARGIN * bound
        self.factor = torch.ones(batch, device=device)

    def feasible(self, rep: torch.Tensor) -> torch.Tensor:
        return rep <= self.bound

    def update(self, rep: torch.Tensor) -> None:
        grown = torch.where(self.feasible(rep), self.factor * SCALE_UP, self.factor * SCALE_DOWN)
        self.factor = grown.clamp(SCALE_FLOOR, 1.0)


def _check_inputs(loaded: LoadedModel, targets: torch.Tensor, seeds: torch.Tensor | None,
                  spec: GenerationSpec, layer: str) -> None:
    size = loaded.spec.input_size
    if targets.ndim != 4 or tuple(targets.shape[1:]) != (3, size, size):
        raise ValueError(f"targets must have shape (B, 3, {size}, {size}), got {tuple(targets.shape)}")
    if targets.shape[0] == 0:
        raise ValueError("targets is empty")
    if float(targets.min()) < 0.0 or float(targets.max()) > 1.0:
        raise ValueError("targets must be images in [0, 1]")
    if seeds is not None and tuple(seeds.shape) != tuple(targets.shape):
        raise ValueError(f"seeds shape {tuple(seeds.shape)} does not match targets {tuple(targets.shape)}")
    if layer not in spec.layers:
        raise ValueError(f"layer {layer!r} is not one of the spec's layers {list(spec.layers)}")
    check_layers(loaded, [layer])


def _prepare(loaded: LoadedModel, targets: torch.Tensor, seeds: torch.Tensor, spec: GenerationSpec,
             layer: str, perceptual: PerceptualDistance | None) -> _Run:
    extractor = cached_extractor(loaded, [layer], fake_relu=spec.fake_relu,
                                 dtype=autocast_dtype(loaded, spec.precision))
    # The target's activation is computed once, so always in fp32: against a bf16 target the loop
    # ended about 0.5% above the fp32 loop's L_rep; against the fp32 one it ends level or below
    # (measured with bench/engine.py; an fp32 finish of the last steps added nothing).
    exact = cached_extractor(loaded, [layer], fake_relu=spec.fake_relu)
    with torch.no_grad():
        target_features = exact.flat(targets, layer)
    size = loaded.spec.input_size
    objective = build_objective(spec, perceptual)
    bound = spec.criterion.max_rep_loss
    constraint = None if objective.reference is None or bound is None else _Constraint(
        bound, targets.shape[0], targets.device)
    return _Run(extractor=extractor, exact_extractor=exact, layer=layer,
                param=make_parameterization(spec.parameterization, height=size, width=size),
                objective=objective, target_features=target_features, targets=targets, seeds=seeds,
                transform=lucid_transforms(size) if spec.transforms else None, constraint=constraint)


def _exact_rep_loss(run: _Run, images: torch.Tensor) -> torch.Tensor:
    """L_rep of ``images`` in fp32 without transforms (the number stored with each IRI)."""
    with torch.no_grad():
        return representation_loss(run.exact_extractor.flat(images, run.layer), run.target_features)


def generate(loaded: LoadedModel, targets: torch.Tensor, spec: GenerationSpec, *, layer: str,
             device: torch.device, generator: torch.Generator, seeds: torch.Tensor | None = None,
             perceptual: PerceptualDistance | None = None,
             progress: Callable[[Progress], bool | None] | None = None,
             progress_every_s: float | None = None) -> GenerationResult:
    """Make one IRI per target at ``layer`` (docs/method.md §1).

    targets: (B, 3, H, W) in [0, 1], H = W = the model's input size. ``seeds`` (same shape):
    the starting points to use; otherwise they are drawn from ``spec.seed_type`` with
    ``generator`` (which also drives the random transforms). ``perceptual`` is required by the
    adversarial presets. ``progress`` is called about 100 times spread over the steps and, with
    ``progress_every_s``, also whenever that many seconds of wall clock passed since its last call
    (so a caller can beat a heartbeat and see a cancel within seconds however long the run);
    returning False raises GenerationCancelled. A loss that became NaN or infinite, seen at a
    progress call or at the end, raises GenerationDiverged. Returns a GenerationResult with CPU tensors.
    """
    started = time.perf_counter()
    _check_inputs(loaded, targets, seeds, spec, layer)
    if seeds is None:
        seeds = make_seeds(spec.seed_type, shape=tuple(targets.shape), shared=spec.seed_shared,
                           generator=generator)
    targets, seeds = targets.to(device, torch.float32), seeds.to(device, torch.float32)
    run = _prepare(loaded, targets, seeds, spec, layer, perceptual)
    images, tracker = _optimize(run, spec, generator, _Reporter(progress, spec.iterations, progress_every_s))
    final_rep = _exact_rep_loss(run, images)
    _check_finite(final_rep, tracker.curve[-1], total=spec.iterations)
    return GenerationResult(
        iris=images.detach().clamp(0, 1).cpu(), seeds=seeds.detach().cpu(),
        final_rep_loss=final_rep.cpu(), loss_curve=torch.stack(tracker.curve).cpu().tolist(),
        optimizer=spec.optimizer, wall_seconds=time.perf_counter() - started, layer=layer,
        adversarial_scale=run.objective.scale if run.objective.reference else None, curve_steps=tracker.steps,
        fp32_from_step=tracker.fp32_from_step)


# precision="auto" with bf16 (docs/engine/option-precision.md): the network runs in bf16 while
# the loss falls fast, then in fp32 to the end: every DESCENT_WINDOW steps the batch's mean loss
# is compared with its value a window earlier, and once it fell by less than DESCENT_GAIN (a
# fraction of itself) the run switches, for good. Measured with bench/engine.py on trained
# networks: in the slow phase bf16's rounding costs final L_rep (the best iterate is picked on a
# noisy loss, and the step directions are noisier); in the fast phase it costs nothing.
DESCENT_WINDOW = 25
DESCENT_GAIN = 0.05


class _Descent:
    """Watches the mean loss; ``over`` once a window's relative improvement drops below DESCENT_GAIN."""

    def __init__(self) -> None:
        self.over, self._previous, self.ended_at = False, None, None

    def observe(self, step: int, total: torch.Tensor) -> None:
        if step % DESCENT_WINDOW:
            return
        mean = float(total.detach().mean())  # one host sync per window
        if self._previous is not None and not mean < (1 - DESCENT_GAIN) * self._previous:
            self.over, self.ended_at = True, step + 1
        self._previous = mean


def _finish_in_fp32(run: _Run, best: _Best, generator: torch.Generator) -> _Best:
    """Switch the loop to the fp32 extractor and re-judge the kept iterates in fp32, so that the
    final choice compares fp32 values only."""
    run.extractor = run.exact_extractor
    rescored = _Best(best.images)
    with torch.no_grad():
        rescored.update(best.images, *run.kept_key(_evaluate_image(run, best.images, generator)))
    return rescored


class _Tracker:
    """What the loop keeps between steps: the kept iterates, the loss curve, the precision phase."""

    def __init__(self, run: _Run, spec: GenerationSpec) -> None:
        self.run, self.keep_best = run, spec.keep == "best"
        self.best, self.curve, self.steps = _Best(run.seeds), [], []
        self.record_every = max(1, math.ceil(spec.iterations / MAX_CURVE_POINTS))
        self.descent = _Descent() if run.extractor is not run.exact_extractor else None
        self.fp32_from_step = None

    def before_step(self, step: int, generator: torch.Generator) -> None:
        if self.descent is not None and self.descent.over:
            self.best, self.descent = _finish_in_fp32(self.run, self.best, generator), None
            self.fp32_from_step = step

    def after_evaluation(self, step: int, values: LossValues, image: torch.Tensor) -> None:
        if self.descent is not None:
            self.descent.observe(step, values.total)
        if self.keep_best:
            self.best.update(image, *self.run.kept_key(values))
        if self.run.constraint is not None:
            self.run.constraint.update(values.rep)
        if step % self.record_every == 0:
            self.curve.append(values.rep)
            self.steps.append(step)

    def finish(self, variable: torch.Tensor, total: int, generator: torch.Generator) -> torch.Tensor:
        """Evaluate once more after the last step (docs/method.md §5), in fp32, and choose."""
        with torch.no_grad():
            if self.descent is not None:
                self._all_descent(total, generator)
            values, image = _evaluate(self.run, variable, generator)
        self.curve.append(values.rep)
        self.steps.append(total)
        if not self.keep_best:
            return image.detach()
        self.best.update(image, *self.run.kept_key(values))
        return self.best.images.detach()

    def _all_descent(self, total: int, generator: torch.Generator) -> None:
        # The loss still fell fast at the end: the final choice is made in fp32 all the same.
        self.best, self.descent = _finish_in_fp32(self.run, self.best, generator), None
        self.fp32_from_step = total


def _check_finite(final_rep: torch.Tensor, last_rep: torch.Tensor, *, total: int) -> None:
    """A NaN or infinite loss at the end (a kept iterate, or the last step) fails the run: NaN
    steps never recover, and a half-NaN batch is not worth storing."""
    if not (bool(torch.isfinite(final_rep).all()) and bool(torch.isfinite(last_rep).all())):
        raise GenerationDiverged(f"the loss became NaN or infinite by step {total} of {total}; "
                                 "lower the step size or check the network's weights")


class _Reporter:
    """When the loop calls ``progress``: every ~1/PROGRESS_CALLS of the run, at the last step, and
    whenever ``every_s`` seconds passed since the last call. The clock is read each step (cheap);
    the loss is read from the device only when a call is due (one host sync)."""

    def __init__(self, progress: Callable[[Progress], bool | None] | None, total: int,
                 every_s: float | None) -> None:
        self.progress, self.total, self.every_s = progress, total, every_s
        self.every_steps = max(1, math.ceil(total / PROGRESS_CALLS))
        self.last = time.monotonic()

    def due(self, step: int) -> bool:
        done = step + 1
        if self.progress is None:
            return False
        if done % self.every_steps == 0 or done == self.total:
            return True
        return self.every_s is not None and time.monotonic() - self.last >= self.every_s

    def __call__(self, step: int, total_loss: torch.Tensor) -> None:
        """Report step ``step`` (0-based); raises GenerationCancelled or GenerationDiverged."""
        self.last = time.monotonic()
        loss = float(total_loss.detach().mean())
        if not math.isfinite(loss):
            raise GenerationDiverged(f"the loss became NaN or infinite ({loss}) by step {step + 1} of {self.total}; "
                                     "lower the step size or check the network's weights")
        if self.progress(Progress(step=step + 1, total=self.total, loss=loss)) is False:
            raise GenerationCancelled(f"cancelled at step {step + 1} of {self.total}")


def _optimize(run: _Run, spec: GenerationSpec, generator: torch.Generator,
              report: _Reporter) -> tuple[torch.Tensor, _Tracker]:
    """The loop; returns the kept images (B,3,H,W) and the tracker (loss curve, precision phase)."""
    # One leaf for the whole run: gradients come from autograd.grad (nothing accumulates in
    # .grad) and updates happen in place under no_grad, so optimisers keep a stable handle.
    variable = run.param.init(run.seeds).requires_grad_(True)
    step_rule = make_step_rule(spec, variable)
    total = spec.iterations
    tracker = _Tracker(run, spec)
    for step in range(total):
        tracker.before_step(step, generator)
        values, image = _evaluate(run, variable, generator)
        (grad,) = torch.autograd.grad(values.total.sum(), variable)
        tracker.after_evaluation(step, values, image)
        with torch.no_grad():
            step_rule(variable, grad, step)
            run.param.project(variable)
        if report.due(step):
            report(step, values.total)
    return tracker.finish(variable, total, generator), tracker
