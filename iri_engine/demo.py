"""A small, deterministic, download-free model for ``make demo`` and quick trials.

``write_demo_checkpoint(path)`` saves a randomly initialised torchvision ResNet-18 (fixed seed,
16 outputs like Feather's 16-way task) as a plain state_dict and returns the ModelSpec that loads
it. Its input size is small so that a demo job (6 targets x 300 iterations at ``layer3``)
finishes on a 2-core CPU in well under two minutes (measured figures in docs/engine/demo.md).
"""

from __future__ import annotations

import os

import torch

from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD, ModelSpec

DEMO_ARCHITECTURE = "resnet18"
DEMO_INPUT_SIZE = 64  # pixels
DEMO_NUM_CLASSES = 16
DEMO_INIT_SEED = 20231
DEMO_LAYERS = ("layer2", "layer3", "avgpool")
DEMO_ITERATIONS = 300


def demo_spec(weights_path: str | None) -> ModelSpec:
    """The ModelSpec of the demo model (``weights_path=None``: the same weights, rebuilt)."""
    return ModelSpec(architecture=DEMO_ARCHITECTURE, weights_path=weights_path,
                     input_size=DEMO_INPUT_SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD,
                     num_classes=DEMO_NUM_CLASSES, init_seed=DEMO_INIT_SEED)


def write_demo_checkpoint(path: str | os.PathLike) -> ModelSpec:
    """Write the demo model's state_dict to ``path`` (a .pt file) and return its ModelSpec.

    Deterministic: the same path always gets the same weights and the same bytes.
    """
    from iri_engine.models import _build_architecture  # noqa: PLC2701 - same package

    path = os.fspath(path)
    network = _build_architecture(demo_spec(None))
    state = {name: tensor.detach().clone().contiguous() for name, tensor in network.state_dict().items()}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    torch.save(state, path)
    return demo_spec(os.path.abspath(path))
