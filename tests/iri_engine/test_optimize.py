"""The loop: reg_free reaches small L_rep; steps, schedules, best iterate, progress, cancel."""

from __future__ import annotations

import time

import pytest
import torch

from iri_engine.devices import bf16_pays
from iri_engine.features import FeatureExtractor
from iri_engine.losses import representation_loss
from iri_engine.models import load_model
from iri_engine.optimize import (
    GenerationCancelled,
    GenerationDiverged,
    Progress,
    generate,
    normalized_step,
    stage_step_size,
)
from iri_engine.seeds import make_seeds
from iri_engine.spec import GenerationSpec

from .conftest import CPU, smooth_images, tiny_spec


def _rep_loss(model, targets, images, layer):
    extractor = FeatureExtractor(model, [layer])
    with torch.no_grad():
        return representation_loss(extractor.flat(images), extractor.flat(targets))


def _run(model, targets, generator, **overrides):
    layer = overrides.pop("layer", "layer2")
    seeds = overrides.pop("seeds", None)
    spec = GenerationSpec(layers=(layer,), **overrides)
    return generate(model, targets, spec, layer=layer, device=CPU, generator=generator, seeds=seeds)


def test_it_drives_the_reg_free_loss_below_five_percent(tiny_model, targets, generator):
    result = _run(tiny_model, targets, generator, layer="layer3", iterations=100, optimizer="adam",
                  step_size=0.02)
    assert result.iris.shape == targets.shape and result.optimizer == "adam"
    assert (result.final_rep_loss < 0.05).all(), result.final_rep_loss


def test_it_lowers_the_loss_with_the_reference_normalised_step(tiny_model, targets, generator):
    result = _run(tiny_model, targets, generator, iterations=40, optimizer="ngd_staged", stages=4)
    first = torch.tensor(result.loss_curve[0])
    assert (result.final_rep_loss < 0.5 * first).all()
    assert float(result.iris.min()) >= 0.0 and float(result.iris.max()) <= 1.0


def test_it_keeps_each_examples_best_iterate(tiny_model, targets, generator):
    # fp32: the curve is measured in the loop's precision, the stored L_rep always in fp32.
    result = _run(tiny_model, targets, generator, iterations=12, keep="best", precision="fp32")
    curve = torch.tensor(result.loss_curve)  # (13, B): every step, then after the final step
    assert curve.shape == (13, 3) and result.curve_steps == list(range(13))
    assert torch.allclose(result.final_rep_loss, curve.min(dim=0).values, atol=1e-5)


def _from_the_target(model, targets, generator, precision):
    """A run that starts at the target and barely moves: its L_rep measures rounding only."""
    return _run(model, targets, generator, iterations=5, step_size=1e-7, seeds=targets.clone(),
                keep="last", precision=precision)


@pytest.mark.skipif(not bf16_pays(CPU), reason="auto uses bf16 only where the CPU has it natively")
def test_auto_precision_runs_bf16_against_an_fp32_target_and_stores_an_exact_loss(tiny_model, targets, generator):
    result = _from_the_target(tiny_model, targets, generator, "auto")
    # A bf16 forward of the target itself, compared with its fp32 activation: rounding shows.
    # (Against a bf16 target it would be exactly 0.)
    assert (torch.tensor(result.loss_curve[0]) > 1e-4).all(), result.loss_curve[0]
    assert (result.final_rep_loss < 1e-5).all(), result.final_rep_loss  # recomputed in fp32


def test_fp32_precision_never_autocasts(tiny_model, targets, generator):
    assert (torch.tensor(_from_the_target(tiny_model, targets, generator, "fp32").loss_curve) < 1e-5).all()


def test_it_keeps_the_last_iterate_when_asked(tiny_model, targets, generator):
    result = _run(tiny_model, targets, generator, iterations=12, keep="last", precision="fp32")
    assert torch.allclose(result.final_rep_loss, torch.tensor(result.loss_curve[-1]), atol=1e-5)


def test_it_is_reproducible_from_the_generator(tiny_model, targets):
    a = _run(tiny_model, targets, torch.Generator().manual_seed(5), iterations=5, seed_shared=False)
    b = _run(tiny_model, targets, torch.Generator().manual_seed(5), iterations=5, seed_shared=False)
    assert torch.equal(a.iris, b.iris) and torch.equal(a.seeds, b.seeds)
    assert not torch.equal(a.seeds[0], a.seeds[1])


def test_it_treats_each_example_independently(tiny_model, targets, generator):
    seeds = make_seeds("super-noise", shape=tuple(targets.shape), shared=False, generator=generator)
    # fp32: bf16 kernels block differently per batch size, so their rounding differs more.
    together = _run(tiny_model, targets, generator, iterations=5, seeds=seeds, precision="fp32")
    alone = _run(tiny_model, targets[1:2], generator, iterations=5, seeds=seeds[1:2], precision="fp32")
    assert torch.equal(together.seeds, seeds)
    assert torch.allclose(together.iris[1], alone.iris[0], atol=1e-4)


def test_it_records_at_most_about_200_curve_points_and_reports_progress_sparingly(tiny_model, generator):
    reports: list[Progress] = []
    spec = GenerationSpec(layers=("conv1",), iterations=450)
    result = generate(tiny_model, smooth_images(1), spec, layer="conv1", device=CPU, generator=generator,
                      progress=reports.append)
    assert len(result.loss_curve) <= 201 and result.curve_steps[-1] == 450
    steps = result.curve_steps[:-1]
    assert len({b - a for a, b in zip(steps, steps[1:], strict=False)}) == 1  # evenly spaced
    assert 90 <= len(reports) <= 101 and reports[-1].step == 450 and reports[-1].total == 450
    assert all(isinstance(r.loss, float) for r in reports)


def test_it_cancels_when_progress_returns_false(tiny_model, targets, generator):
    calls = []

    def stop_at_second_report(progress: Progress) -> bool:
        calls.append(progress.step)
        return len(calls) < 2

    spec = GenerationSpec(layers=("conv1",), iterations=300)
    with pytest.raises(GenerationCancelled):
        generate(tiny_model, targets, spec, layer="conv1", device=CPU, generator=generator,
                 progress=stop_at_second_report)
    assert calls == [3, 6]


def test_a_cancel_stops_a_million_step_run_within_seconds_when_progress_is_timed(tiny_model, generator):
    """Reports every 1/100 of the run were 10,000 steps apart here: minutes of ignored cancels."""
    started = time.monotonic()
    calls = []

    def cancel_after_a_second(progress: Progress) -> bool:
        calls.append(time.monotonic() - started)
        return calls[-1] < 1.0

    spec = GenerationSpec(layers=("conv1",), iterations=1_000_000)
    with pytest.raises(GenerationCancelled):
        generate(tiny_model, smooth_images(1), spec, layer="conv1", device=CPU, generator=generator,
                 progress=cancel_after_a_second, progress_every_s=0.2)

    assert time.monotonic() - started < 5.0
    gaps = [b - a for a, b in zip([0.0, *calls], calls, strict=False)]
    assert max(gaps) < 1.0  # a call at least every 0.2 s plus one step, however long the run


def test_a_loss_that_becomes_nan_fails_the_run_with_a_reason(generator):
    broken = load_model(tiny_spec(init_seed=5), device=CPU)
    with torch.no_grad():
        broken.network.conv1.weight[0, 0, 0, 0] = float("nan")

    spec = GenerationSpec(layers=("layer1",), iterations=20)
    with pytest.raises(GenerationDiverged, match="NaN"):
        generate(broken, smooth_images(2), spec, layer="layer1", device=CPU, generator=generator,
                 progress=lambda progress: True)
    with pytest.raises(GenerationDiverged, match="NaN"):  # without a progress callback, at the end
        generate(broken, smooth_images(2), spec, layer="layer1", device=CPU, generator=generator)


def test_it_normalises_the_step_per_example():
    variable = torch.zeros(2, 1, 2, 2)
    grad = torch.zeros(2, 1, 2, 2)
    grad[0, 0, 0, 0], grad[1] = 3.0, 10.0
    normalized_step(variable, grad, eta=0.5)
    assert torch.allclose(variable.flatten(1).norm(dim=1), torch.tensor([0.5, 0.5]))
    assert torch.isclose(variable[0, 0, 0, 0], torch.tensor(-0.5))
    normalized_step(variable, torch.zeros_like(grad), eta=1.0)  # a zero gradient is no step, no NaN
    assert torch.isfinite(variable).all()


def test_it_halves_the_step_size_at_each_stage():
    sizes = [stage_step_size(1.0, step, iterations=80, stages=8) for step in range(80)]
    assert sizes[0] == sizes[9] == 1.0 and sizes[10] == 0.5 and sizes[79] == 1.0 / 128
    assert len(set(sizes)) == 8


@pytest.mark.parametrize("options", [
    {"parameterization": "fourier", "optimizer": "adam", "step_size": 0.05},
    {"transforms": True},
    {"fake_relu": True, "layer": "avgpool"},
    {"loss": "freq"},
    {"loss": "freq_tv_l6", "seed_type": "feather"},
])
def test_it_runs_every_option_and_lowers_the_loss(tiny_model, targets, generator, options):
    result = _run(tiny_model, targets, generator, iterations=15, **options)
    assert result.iris.shape == targets.shape and torch.isfinite(result.final_rep_loss).all()
    layer = options.get("layer", "layer2")
    assert torch.allclose(result.final_rep_loss, _rep_loss(tiny_model, targets, result.iris, layer), atol=1e-5)
    assert (result.final_rep_loss < _rep_loss(tiny_model, targets, result.seeds, layer)).all()


def test_it_refuses_wrong_inputs(tiny_model, targets, generator):
    spec = GenerationSpec(layers=("layer2",), iterations=2)
    with pytest.raises(ValueError, match="shape"):
        generate(tiny_model, targets[:, :, :16], spec, layer="layer2", device=CPU, generator=generator)
    with pytest.raises(ValueError, match="not one of the spec's layers"):
        generate(tiny_model, targets, spec, layer="layer3", device=CPU, generator=generator)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        generate(tiny_model, targets * 3, spec, layer="layer2", device=CPU, generator=generator)
    with pytest.raises(ValueError, match="perceptual"):
        generate(tiny_model, targets, GenerationSpec(layers=("layer2",), loss="adversarial"),
                 layer="layer2", device=CPU, generator=generator)


def test_the_adversarial_preset_keeps_an_iterate_that_is_still_an_iri(tiny_model, other_model, targets, generator):
    # s fixed at the first step lets the perceptual push win (L_rep far above any IRI's); the
    # IRI constraint shrinks s per example while L_rep is above the bound and keeps, among the
    # iterates within it, the one perceptually farthest from the target.
    from iri_engine.proxies import PerceptualDistance

    distance = PerceptualDistance(other_model, ["layer1", "layer2"])
    spec = GenerationSpec(layers=("layer3",), loss="adversarial", iterations=100, optimizer="adam", step_size=0.02)
    result = generate(tiny_model, targets, spec, layer="layer3", device=CPU, generator=generator, perceptual=distance)
    assert (result.final_rep_loss <= 0.1).all(), result.final_rep_loss  # the default bound
    reg_free = _run(tiny_model, targets, torch.Generator().manual_seed(1234), layer="layer3", iterations=100,
                    optimizer="adam", step_size=0.02)
    with torch.no_grad():  # ... and it is still adversarial: farther from the target than a reg_free IRI
        assert (distance(result.iris, targets) > distance(reg_free.iris, targets)).all()


@pytest.mark.skipif(not bf16_pays(CPU), reason="auto uses bf16 only where the CPU has it natively")
def test_auto_precision_finishes_in_fp32_once_the_loss_stops_falling_fast(tiny_model, targets, generator):
    result = _run(tiny_model, targets, generator, iterations=300, layer="layer3")
    assert result.fp32_from_step is not None and 0 < result.fp32_from_step < 300
    # From the switch on, the curve is fp32: its minimum over the fp32 phase is what was kept.
    curve, steps = torch.tensor(result.loss_curve), torch.tensor(result.curve_steps)
    fp32_phase = curve[steps >= result.fp32_from_step]
    assert (result.final_rep_loss <= fp32_phase.min(dim=0).values + 1e-5).all()
    assert _run(tiny_model, targets, generator, iterations=5, precision="fp32").fp32_from_step is None
