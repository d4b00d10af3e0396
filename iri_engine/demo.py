"""Small, deterministic, download-free models and targets for ``make demo`` and quick trials.

``write_demo_checkpoint(path)`` saves a randomly initialised torchvision ResNet-18 (fixed seed,
16 outputs like Feather's 16-way task) as a plain state_dict and returns the ModelSpec that loads
it. Its input size is small so that a demo job (6 targets x 300 iterations at ``layer3``)
finishes on a 2-core CPU in well under two minutes (measured figures in docs/engine/demo.md).

``write_demo_controls(directory)`` and ``demo_digits_zip()`` are what ``make demo`` surveys: the
trained control networks (``iri_engine.controls``: a standard and an adversarially trained digit
classifier) and held-out digits as a zip of PNGs whose folders name their categories.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import torch

from iri_engine.controls import PENULTIMATE, balanced_targets, write_controls
from iri_engine.io import to_png
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


# The demo's two subjects, each with its role (docs/engine/controls.md), and where their IRIs are made.
DEMO_CONTROLS = {"standard": "negative control", "robust": "positive control"}
DEMO_CONTROL_LAYER = PENULTIMATE
DEMO_DIGITS_PER_CLASS = 1  # ten held-out digits, one of each


def write_demo_controls(directory: str | os.PathLike) -> dict[str, ModelSpec]:
    """Copy the standard and robust control networks' weights into ``directory``; their ModelSpecs."""
    controls = write_controls(Path(directory))
    return {name: controls[name].spec for name in DEMO_CONTROLS}


def demo_digits_zip(per_class: int = DEMO_DIGITS_PER_CLASS) -> bytes:
    """Held-out digits (never trained on), ``per_class`` of each, as a zip of 32 x 32 PNGs named
    ``<digit>/<n>.png``: an upload whose folders give each target its category."""
    images, labels = balanced_targets(per_class)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (image, label) in enumerate(zip(images, labels.tolist(), strict=True)):
            archive.writestr(f"{label}/{index:03d}.png", to_png(image))
    return buffer.getvalue()
