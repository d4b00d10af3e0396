"""Shared fixtures: tiny CPU models whose answers are known (docs/conventions.md §16).

No Django here: these tests run with ``-p no:django`` and must never import it.
"""

from __future__ import annotations

import pytest
import torch

from iri_engine.models import load_model
from iri_engine.spec import ModelSpec

CPU = torch.device("cpu")
# One intra-op thread: this 2-core machine is shared with other test runs, and oversubscribed
# OpenMP threads stall each other (measured 3-5x slowdowns); one thread is also bit-stable.
torch.set_num_threads(1)

TINY_SIZE = 32  # pixels: resnet18 at 32x32 costs ~40 MFLOPs per image
CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2023, 0.1994, 0.2010)


def tiny_spec(weights_path=None, *, architecture="resnet18", size=TINY_SIZE, num_classes=10,
              init_seed=0) -> ModelSpec:
    return ModelSpec(architecture=architecture, weights_path=weights_path, input_size=size,
                     mean=CIFAR_MEAN, std=CIFAR_STD, num_classes=num_classes, init_seed=init_seed)


@pytest.fixture(scope="session")
def tiny_model():
    """resnet18, random init (seed 0), 10 classes, 32x32 inputs, on CPU."""
    return load_model(tiny_spec(), device=CPU)


@pytest.fixture(scope="session")
def other_model():
    """A second, differently initialised network (for proxies and model-to-model)."""
    return load_model(tiny_spec(init_seed=1), device=CPU)


@pytest.fixture
def generator():
    return torch.Generator().manual_seed(1234)


def smooth_images(count: int, size: int = TINY_SIZE, seed: int = 0) -> torch.Tensor:
    """Natural-ish images: low-frequency colour blobs, (count, 3, size, size) in [0, 1]."""
    gen = torch.Generator().manual_seed(seed)
    coarse = torch.rand(count, 3, 4, 4, generator=gen)
    images = torch.nn.functional.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    return images.clamp(0, 1)


@pytest.fixture
def targets():
    return smooth_images(3)


@pytest.fixture(autouse=True)
def _media_in_tmp():
    """Overrides tests/conftest.py's Django media fixture: engine tests store no media and must
    run without Django (``-p no:django``)."""
    yield
