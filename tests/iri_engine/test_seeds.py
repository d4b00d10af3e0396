"""Starting points are reproducible from the caller's generator (docs/method.md §1)."""

from __future__ import annotations

import pytest
import torch

from iri_engine.seeds import make_seeds, register_seed

SHAPE = (4, 3, 8, 8)


@pytest.mark.parametrize("seed_type", ["super-noise", "light-noise", "feather", "uniform"])
def test_it_reproduces_seeds_from_the_generator_state(seed_type):
    first = make_seeds(seed_type, shape=SHAPE, shared=False, generator=torch.Generator().manual_seed(3))
    again = make_seeds(seed_type, shape=SHAPE, shared=False, generator=torch.Generator().manual_seed(3))
    other = make_seeds(seed_type, shape=SHAPE, shared=False, generator=torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert first.shape == SHAPE and float(first.min()) >= 0 and float(first.max()) <= 1


def test_it_shares_one_seed_across_the_batch_or_draws_one_per_target(generator):
    shared = make_seeds("super-noise", shape=SHAPE, shared=True, generator=generator)
    assert all(torch.equal(shared[0], shared[i]) for i in range(4))
    own = make_seeds("super-noise", shape=SHAPE, shared=False, generator=generator)
    assert not torch.equal(own[0], own[1])


def test_it_draws_the_published_distributions(generator):
    big = (1, 3, 128, 128)
    super_noise = make_seeds("super-noise", shape=big, shared=True, generator=generator)
    # N(0,1) clipped to [0,1]: half the pixels at 0, ~16% at 1.
    assert abs(float((super_noise == 0).float().mean()) - 0.5) < 0.02
    assert abs(float((super_noise == 1).float().mean()) - 0.1587) < 0.02
    feather = make_seeds("feather", shape=big, shared=True, generator=generator)
    assert abs(float(feather.mean()) - 0.5) < 0.01 and abs(float(feather.std()) - 0.05) < 0.005
    light = make_seeds("light-noise", shape=big, shared=True, generator=generator)
    assert float(light.max()) < 0.06
    assert torch.equal(make_seeds("black", shape=SHAPE, shared=True, generator=generator), torch.zeros(SHAPE))
    assert torch.equal(make_seeds("white", shape=SHAPE, shared=True, generator=generator), torch.ones(SHAPE))


def test_it_starts_from_a_given_natural_image(generator):
    image = torch.rand(3, 8, 8)
    seeds = make_seeds("image", shape=SHAPE, shared=True, generator=generator, image=image)
    assert all(torch.equal(seeds[i], image) for i in range(4))
    with pytest.raises(ValueError, match="needs an image"):
        make_seeds("image", shape=SHAPE, shared=True, generator=generator)


def test_it_refuses_unknown_seed_types_and_duplicate_registrations(generator):
    with pytest.raises(ValueError, match="unknown seed type"):
        make_seeds("grey", shape=SHAPE, shared=True, generator=generator)
    with pytest.raises(ValueError, match="already registered"):
        register_seed("black")(lambda shape, gen: torch.zeros(shape))
