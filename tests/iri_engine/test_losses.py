"""Every loss term: its value on hand-computable inputs and its gradient (docs/method.md §1)."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck

from iri_engine.losses import (
    Objective,
    blur3x3,
    blur_loss,
    build_objective,
    get_preset,
    l1_loss,
    lp_norm,
    register_preset,
    representation_loss,
    total_variation,
)
from iri_engine.spec import LOSS_PRESETS, GenerationSpec


def _double(*shape, seed=0):
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_it_computes_the_normalised_representation_loss():
    target = torch.tensor([[3.0, 4.0], [1.0, 0.0]])
    features = torch.tensor([[3.0, 4.0], [1.0, 2.0]])
    # ||0|| / 5 = 0; ||(0, 2)|| / 1 = 2.
    assert torch.allclose(representation_loss(features, target), torch.tensor([0.0, 2.0]))
    assert torch.allclose(representation_loss(torch.zeros(1, 2, 2, 2), torch.ones(1, 2, 2, 2)), torch.tensor([1.0]))


def test_it_differentiates_the_representation_loss():
    target = _double(2, 5, seed=1)
    assert gradcheck(lambda f: representation_loss(f, target), (_double(2, 5).requires_grad_(),))


def test_it_computes_total_variation():
    image = torch.zeros(1, 1, 2, 2)
    image[0, 0, 0, 1] = 1.0  # [[0, 1], [0, 0]]: dx^2 sum 1 (row 0), dy^2 sum 1 (column 1)
    assert torch.allclose(total_variation(image, beta=2.0), torch.tensor([2.0]))
    assert torch.allclose(total_variation(image, beta=1.0), torch.tensor([2.0 ** 0.5]))
    assert torch.allclose(total_variation(torch.ones(2, 3, 4, 4)), torch.zeros(2))


def test_it_differentiates_total_variation():
    for beta in (2.0, 1.0):
        assert gradcheck(lambda x, beta=beta: total_variation(x, beta=beta), (_double(2, 3, 4, 5).requires_grad_(),))


def test_it_blurs_with_the_published_kernel_normalised_at_the_edges():
    flat = torch.full((1, 3, 5, 5), 0.7)
    assert torch.allclose(blur3x3(flat), flat)  # a constant image is its own blur, edges included
    spike = torch.zeros(1, 1, 3, 3)
    spike[0, 0, 1, 1] = 1.0
    # Centre weight 1 of a total mass 1 + 8 * 0.5 = 5.
    assert torch.isclose(blur3x3(spike)[0, 0, 1, 1], torch.tensor(1 / 5))
    # Corner (0, 0): the kernel mass inside the image is 1 + 3 * 0.5 = 2.5; the spike sits at 0.5.
    assert torch.isclose(blur3x3(spike)[0, 0, 0, 0], torch.tensor(0.5 / 2.5))


def test_it_computes_the_blur_loss_with_a_detached_blurred_copy():
    spike = torch.zeros(1, 1, 3, 3)
    spike[0, 0, 1, 1] = 1.0
    expected = 0.5 * ((spike - blur3x3(spike)) ** 2).sum()
    assert torch.isclose(blur_loss(spike)[0], expected)
    x = _double(1, 2, 4, 4).requires_grad_()
    (grad,) = torch.autograd.grad(blur_loss(x).sum(), x)
    # d/dx 0.5 ||x - b||^2 with b fixed. (gradcheck does not apply: its finite differences would
    # also move the blurred copy, which by design carries no gradient.)
    assert torch.allclose(grad, x.detach() - blur3x3(x.detach()))


def test_it_computes_l1_around_the_centre_and_the_p_norm():
    image = torch.tensor([[[[0.0, 1.0], [0.5, 0.25]]]])
    assert torch.isclose(l1_loss(image, center=0.5)[0], torch.tensor(0.5 + 0.5 + 0.0 + 0.25))
    assert torch.isclose(lp_norm(torch.tensor([[3.0, 4.0]]), p=2)[0], torch.tensor(5.0))
    assert torch.isclose(lp_norm(torch.tensor([[1.0, 1.0]]), p=6)[0], torch.tensor(2.0 ** (1 / 6)))


def test_it_differentiates_l1_and_the_p_norm():
    away_from_centre = _double(2, 3, 3, 3) * 0.4 + torch.tensor(0.55, dtype=torch.float64)
    assert gradcheck(lambda x: l1_loss(x, center=0.5), (away_from_centre.requires_grad_(),))
    assert gradcheck(lambda x: lp_norm(x, p=6.0), (_double(2, 3, 3, 3).requires_grad_(),))


def test_it_registers_the_method_presets_with_the_reference_weights():
    assert set(LOSS_PRESETS) <= {"reg_free", "freq", "freq_tv", "freq_blur", "freq_lp", "freq_tv_l6",
                                 "adversarial", "adversarial_seed"}
    assert get_preset("reg_free").weights == {"rep": 1.0}
    assert get_preset("freq").weights == {"rep": 10.0, "tv": 0.0005, "blur": 0.0005, "l1": 0.00005}
    assert get_preset("freq_tv").weights == {"rep": 10.0, "tv": 0.0005}
    assert get_preset("freq_blur").weights == {"rep": 10.0, "blur": 0.0005}
    assert get_preset("freq_lp").weights == {"rep": 10.0, "l1": 0.00005}
    assert get_preset("freq_tv_l6").weights == {"rep": 10.0, "tv": 0.0005, "l6": 1.0}
    assert get_preset("adversarial").perceptual == "target"
    assert get_preset("adversarial_seed").perceptual == "seed"


def test_it_refuses_a_duplicate_preset():
    with pytest.raises(ValueError, match="already registered"):
        register_preset("freq")(lambda: None)


def test_it_combines_weighted_terms_and_lets_the_spec_override_weights():
    image = _double(2, 3, 4, 4).float()
    features, target = torch.rand(2, 6), torch.rand(2, 6)
    objective = build_objective(GenerationSpec(layers=("a",), loss="freq", loss_weights={"tv": 1.0, "blur": 0.0}))
    assert objective.weights == {"rep": 10.0, "tv": 1.0, "l1": 0.00005}
    values = objective(image=image, features=features, target_features=target)
    expected = (10 * representation_loss(features, target) + total_variation(image)
                + 0.00005 * l1_loss(image))
    assert torch.allclose(values.total, expected)
    assert torch.allclose(values.rep, representation_loss(features, target))


class _Distance:
    name = "mean-abs"

    def __call__(self, x, y):
        return (x - y).abs().flatten(1).mean(dim=1)


def test_it_fixes_the_adversarial_scale_at_the_first_step():
    objective = Objective(weights={"rep": 1.0}, perceptual=_Distance(), reference="target")
    image, reference = torch.zeros(2, 3, 2, 2), torch.ones(2, 3, 2, 2) * torch.tensor([0.5, 0.25]).view(2, 1, 1, 1)
    features, target = torch.tensor([[1.0, 0.0], [3.0, 0.0]]), torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    values = objective(image=image, features=features, target_features=target, perceptual_pair=(image, reference))
    rep = representation_loss(features, target)
    distance = torch.tensor([0.5, 0.25])
    scale = float(rep.mean() / distance.mean())
    assert objective.scale == pytest.approx(scale)
    assert torch.allclose(values.total, rep - scale * distance)
    assert torch.isclose(values.total.mean(), torch.tensor(0.0), atol=1e-6)  # both terms start equal
    objective(image=image, features=features * 2, target_features=target, perceptual_pair=(image, reference))
    assert objective.scale == pytest.approx(scale)  # fixed, not re-estimated


def test_it_adds_the_seed_distance_with_a_positive_sign():
    objective = Objective(weights={"rep": 1.0}, perceptual=_Distance(), reference="seed", scale=2.0)
    image, seed = torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2)
    features, target = torch.ones(1, 2), torch.ones(1, 2)
    values = objective(image=image, features=features, target_features=target, perceptual_pair=(image, seed))
    assert torch.allclose(values.total, torch.tensor([2.0]))


def test_it_needs_a_distance_for_the_adversarial_presets():
    with pytest.raises(ValueError, match="perceptual"):
        build_objective(GenerationSpec(layers=("a",), loss="adversarial"))
