"""Pixel and Fourier parameterisations (docs/method.md §5)."""

from __future__ import annotations

import pytest
import torch

from iri_engine.params import (
    FourierParam,
    PixelParam,
    color_decorrelation_matrix,
    fourier_scale,
    make_parameterization,
    spectrum_columns,
)


def test_it_clamps_pixels_after_a_step():
    param = PixelParam()
    variable = param.init(torch.tensor([[[[-0.5, 0.5], [1.5, 1.0]]]]).expand(1, 3, 2, 2))
    assert variable.min() >= 0 and variable.max() <= 1
    variable += 2.0
    param.project(variable)
    assert torch.equal(variable, torch.ones_like(variable))
    assert param.to_image(variable) is variable


@pytest.mark.parametrize(("height", "width"), [(16, 16), (15, 15), (12, 9)])
def test_it_uses_lucids_spectrum_shape(height, width):
    param = FourierParam(height, width)
    variable = param.init(torch.rand(2, 3, height, width))
    assert variable.shape == (2, 3, height, spectrum_columns(width), 2)
    assert spectrum_columns(16) == 9 and spectrum_columns(15) == 9  # W//2+1, odd W: W//2+2
    image = param.to_image(variable)
    assert image.shape == (2, 3, height, width) and float(image.min()) > 0 and float(image.max()) < 1


@pytest.mark.parametrize(("height", "width"), [(16, 16), (15, 15)])
def test_it_starts_at_the_seed_image(height, width):
    """init inverts to_image: the optimisation starts exactly at x_0 (identity-ish map)."""
    param = FourierParam(height, width)
    images = torch.rand(2, 3, height, width).clamp(0.01, 0.99)
    assert torch.allclose(param.to_image(param.init(images)), images, atol=1e-4)


def test_it_weights_the_spectrum_by_inverse_frequency():
    scale = fourier_scale(8, 8)[..., 0]
    assert scale.shape == (8, 5)
    assert scale[0, 0] == 8.0  # DC clamped at 1 / max(H, W)
    assert torch.isclose(scale[0, 1], torch.tensor(8.0))  # f = 1/8
    assert torch.isclose(scale[0, 4], torch.tensor(2.0))  # f = 1/2 (Nyquist)
    assert torch.isclose(scale[4, 4], torch.tensor(1 / (0.5 * 2 ** 0.5)))


def test_it_decorrelates_colour_with_the_normalised_lucid_matrix():
    matrix = color_decorrelation_matrix()
    assert torch.isclose(matrix.norm(dim=0).max(), torch.tensor(1.0))
    raw = torch.tensor([[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]])
    assert torch.allclose(matrix * raw.norm(dim=0).max(), raw)


def test_it_maps_a_zero_spectrum_to_grey_and_never_clamps_it():
    param = FourierParam(8, 8)
    zero = torch.zeros(1, 3, 8, 5, 2)
    assert torch.allclose(param.to_image(zero), torch.full((1, 3, 8, 8), 0.5))
    big = torch.full((1, 3, 8, 5, 2), 1e3)
    param.project(big)
    assert torch.equal(big, torch.full((1, 3, 8, 5, 2), 1e3))


def test_it_is_differentiable_and_names_its_kinds():
    param = make_parameterization("fourier", height=8, width=8)
    variable = param.init(torch.rand(1, 3, 8, 8)).requires_grad_()
    (grad,) = torch.autograd.grad(param.to_image(variable).sum(), variable)
    assert torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert make_parameterization("pixel", height=8, width=8).name == "pixel"
    with pytest.raises(ValueError, match="unknown parameterization"):
        make_parameterization("wavelet", height=8, width=8)
