"""Transformation robustness with lucid's defaults (docs/method.md §5)."""

from __future__ import annotations

import collections

import pytest
import torch

from iri_engine.transforms import (
    LUCID_SCALES,
    angle_probabilities,
    compose,
    fit_to_size,
    jitter,
    lucid_transforms,
    pad,
    random_rotate,
    random_scale,
    rotate,
)


def test_it_jitters_by_an_integer_shift_below_d(generator):
    image = torch.arange(100.0).view(1, 1, 10, 10).expand(1, 3, 10, 10)
    corners = set()
    for _ in range(200):
        out = jitter(4)(image, generator)
        assert out.shape == (1, 3, 6, 6)
        corners.add(int(out[0, 0, 0, 0]))
    assert corners == {10 * dy + dx for dy in range(4) for dx in range(4)}  # shifts in [0, 4)


def test_it_scales_by_the_lucid_factors(generator):
    assert pytest.approx([0.9, 0.92, 0.94, 0.96, 0.98, 1.0, 1.02, 1.04, 1.06, 1.08, 1.1]) == LUCID_SCALES
    sizes = {random_scale()(torch.rand(1, 3, 50, 50), generator).shape[-1] for _ in range(200)}
    assert sizes == {45, 46, 47, 48, 49, 50, 51, 52, 53, 54, 55}


def test_it_makes_a_zero_rotation_five_times_as_likely_as_any_other_angle(generator, monkeypatch):
    probabilities = angle_probabilities()
    assert len(probabilities) == 21 and torch.isclose(probabilities.sum(), torch.tensor(1.0, dtype=torch.float64))
    assert probabilities[10] == pytest.approx(5 * probabilities[0]) and probabilities[10] == pytest.approx(0.2)
    picked = collections.Counter()
    original = rotate

    def spy(images, degrees):
        picked[degrees] += 1
        return original(images, degrees)

    monkeypatch.setattr("iri_engine.transforms.rotate", spy)
    transform = random_rotate()
    for _ in range(2000):
        transform(torch.zeros(1, 3, 4, 4), generator)
    assert set(picked) <= set(range(-10, 11))
    assert 0.16 < picked[0] / 2000 < 0.24 and 0.02 < picked[7] / 2000 < 0.07


def test_it_rotates_about_the_centre():
    image = torch.zeros(1, 1, 5, 5)
    image[0, 0, 2, 2] = 1.0  # the centre pixel stays put
    assert torch.allclose(rotate(image, 90.0), image, atol=1e-6)
    bar = torch.zeros(1, 1, 5, 5)
    bar[0, 0, 2, :] = 1.0
    assert torch.allclose(rotate(bar, 90.0), bar.transpose(-1, -2), atol=1e-5)


def test_it_pads_crops_and_keeps_the_input_size(generator):
    assert torch.equal(pad(2, 0.5)(torch.zeros(1, 3, 4, 4), generator)[0, 0, 0], torch.full((8,), 0.5))
    assert fit_to_size(6)(torch.zeros(1, 3, 4, 4), generator).shape == (1, 3, 6, 6)
    assert fit_to_size(3)(torch.zeros(1, 3, 4, 4), generator).shape == (1, 3, 3, 3)
    for size in (32, 224):
        out = lucid_transforms(size)(torch.rand(2, 3, size, size), generator)
        assert out.shape == (2, 3, size, size)
    assert torch.equal(compose([])(torch.ones(1), generator), torch.ones(1))


def test_it_is_reproducible_from_the_generator():
    image = torch.rand(1, 3, 32, 32)
    a = lucid_transforms(32)(image, torch.Generator().manual_seed(8))
    b = lucid_transforms(32)(image, torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
