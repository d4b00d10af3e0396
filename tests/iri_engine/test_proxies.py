"""Proxy alignment on constructed cases; adversarial IRIs fool their generating distance."""

from __future__ import annotations

import pytest
import torch

from iri_engine.models import load_model
from iri_engine.optimize import generate
from iri_engine.proxies import PerceptualDistance, model_to_model, proxy_alignment
from iri_engine.seeds import make_seeds
from iri_engine.spec import GenerationSpec

from .conftest import CPU, smooth_images, tiny_spec


@pytest.fixture(scope="module")
def distances(other_model, tiny_model):
    return [PerceptualDistance(other_model, ["layer1", "layer2"]),
            PerceptualDistance(tiny_model, ["conv1", "layer1"], name="tiny-early")]


def test_it_is_zero_for_identical_images_and_differentiable(distances):
    x = smooth_images(2)
    distance = distances[0]
    assert torch.allclose(distance(x, x), torch.zeros(2), atol=1e-6)
    y = torch.rand(x.shape, generator=torch.Generator().manual_seed(0)).requires_grad_()
    value = distance(x, y)
    assert value.shape == (2,) and (value > 0).all()
    (grad,) = torch.autograd.grad(value.sum(), y)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert distance.name.startswith("unit:resnet18:") and distances[1].name == "tiny-early"


def test_it_scores_constructed_cases(distances):
    targets, seeds = smooth_images(3, seed=1), torch.rand(3, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    at_target = proxy_alignment(targets.clone(), targets, seeds, distances)
    at_seed = proxy_alignment(seeds.clone(), targets, seeds, distances)
    assert at_target["mean"] == 1.0 and at_target["spread"] == 0.0 and at_target["n"] == 3
    assert at_seed["mean"] == 0.0
    entry = at_target["per_distance"]["tiny-early"]
    assert entry["aligned"] == [True, True, True] and entry["share"] == 1.0 and len(entry["d_seed"]) == 3
    mixed = torch.cat([targets[:1], seeds[1:]])
    assert proxy_alignment(mixed, targets, seeds, distances)["mean"] == pytest.approx(1 / 3)


def test_it_drops_the_distance_that_generated_the_iris_and_scores_with_the_others(distances):
    x = smooth_images(1)
    scored = proxy_alignment(x, x, x, distances, exclude="tiny-early")
    assert set(scored["per_distance"]) == {d.name for d in distances} - {"tiny-early"}
    assert scored["excluded"] == ["tiny-early"]
    assert proxy_alignment(x, x, x, distances, exclude="some-other")["excluded"] == []
    with pytest.raises(ValueError, match="fooled by construction"):  # nothing left to score with
        proxy_alignment(x, x, x, [d for d in distances if d.name == "tiny-early"], exclude="tiny-early")


def test_it_matches_the_lpips_package_with_its_calibrated_heads():
    import lpips

    spec = tiny_spec(architecture="alexnet", size=64, num_classes=10)
    spec = type(spec)(**{**spec.to_dict(), "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)})
    backbone = load_model(spec, device=CPU)
    ours = PerceptualDistance.from_lpips_heads(backbone, "alex")
    reference = lpips.LPIPS(net="alex", pnet_rand=True, verbose=False)
    # Give the reference the same (random) trunk weights as our backbone.
    trunk = [m for m in backbone.network.features if isinstance(m, torch.nn.Conv2d)]
    ref_convs = [m for m in reference.net.modules() if isinstance(m, torch.nn.Conv2d)]
    for mine, theirs in zip(trunk, ref_convs, strict=True):
        theirs.weight.data.copy_(mine.weight.contiguous())
        theirs.bias.data.copy_(mine.bias)
    x, y = smooth_images(2, size=64, seed=1), smooth_images(2, size=64, seed=2)
    with torch.no_grad():
        expected = reference(x, y, normalize=True).flatten()
        assert torch.allclose(ours(x, y), expected, rtol=1e-4, atol=1e-6)


def test_adversarial_iris_score_lower_on_their_generating_distance(tiny_model, distances):
    targets = smooth_images(3, seed=7)
    seeds = make_seeds("super-noise", shape=tuple(targets.shape), shared=True,
                       generator=torch.Generator().manual_seed(3))
    judge = distances[0]
    made = {}
    for loss in ("reg_free", "adversarial"):
        spec = GenerationSpec(layers=("layer2",), loss=loss, iterations=30)
        made[loss] = generate(tiny_model, targets, spec, layer="layer2", device=CPU,
                              generator=torch.Generator().manual_seed(0), seeds=seeds, perceptual=judge)
    margin = {}
    for loss, result in made.items():
        scored = proxy_alignment(result.iris, targets, seeds, [judge])["per_distance"][judge.name]
        margin[loss] = torch.tensor(scored["d_seed"]) - torch.tensor(scored["d_target"])
    assert (margin["adversarial"] < margin["reg_free"]).all()
    assert made["adversarial"].adversarial_scale > 0 and made["reg_free"].adversarial_scale is None


def test_it_measures_model_to_model_recognition(tiny_model, other_model):
    images = smooth_images(6, seed=9)
    with torch.no_grad():
        classes = other_model(images).argmax(dim=1)
    perfect = model_to_model(other_model, images, classes)
    assert perfect["accuracy"] == 1.0 and perfect["sem"] == 0.0 and perfect["n"] == 6
    wrong = model_to_model(other_model, images, (classes + 1) % 10)
    assert wrong["accuracy"] == 0.0
    half = model_to_model(other_model, images, torch.where(torch.arange(6) < 3, classes, (classes + 1) % 10))
    assert half["accuracy"] == 0.5 and 0.1 < half["sem"] < 0.35  # binomial SEM sqrt(.25/6) = 0.204
