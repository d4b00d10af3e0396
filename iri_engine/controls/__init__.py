"""Positive and negative controls: small networks trained here, whose invariances are known.

Two ``DigitsResNet`` networks (``iri_engine.controls.net``) trained on scikit-learn's digits
(1,797 8 x 8 handwritten digits that the package ships; upsampled to 32 x 32 RGB), by
``python -m iri_engine.controls.train`` (the exact command and its results are in
``weights/manifest.json``):

- ``robust``, the positive control: adversarially trained (L2 PGD), the kind of network both
  papers found to have more human-like invariances;
- ``standard``, the negative control: the same network and schedule without the adversary, the
  kind whose late-layer IRIs both papers found unrecognisable to people;
- ``observer``: a third, independently seeded standard network that plays the reader in
  model-to-model recognition and supplies a perceptual distance; it is not a control itself.

``write_controls(directory)`` copies the committed weights there and returns their ModelSpecs;
``digits(split)`` gives the images and labels they were trained and are tested on.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import torch
from torch.nn import functional as F

from iri_engine.spec import ModelSpec

ARCHITECTURE = "installed:iris_digits_resnet"
INPUT_SIZE = 32  # pixels
NUM_CLASSES = 10
# Per-channel mean/std of the training split's pixels (grey replicated to RGB), as torchvision's
# CIFAR constants are of CIFAR's; rounded, fixed here so the specs never depend on the split code.
DIGITS_MEAN = (0.3, 0.3, 0.3)
DIGITS_STD = (0.32, 0.32, 0.32)
CONTROLS = ("standard", "robust", "observer")
TEST_SIZE = 297  # images held out of training: the targets of every control experiment
SPLIT_SEED = 0
PENULTIMATE = "avgpool"


@dataclass(frozen=True)
class Control:
    """A control network: its name, its role, and the ModelSpec that loads it."""

    name: str
    role: str
    spec: ModelSpec


ROLES = {"standard": "negative control: standard training",
         "robust": "positive control: adversarial (L2 PGD) training",
         "observer": "reader for model-to-model recognition and perceptual distance"}


def weights_directory() -> Path:
    """Where the committed weights and their manifest live (inside the installed package)."""
    return Path(str(resources.files("iri_engine.controls") / "weights"))


def manifest() -> dict:
    """The training command, settings and measured accuracies of the committed weights."""
    return json.loads((weights_directory() / "manifest.json").read_text())


def control_spec(weights_path: str | None) -> ModelSpec:
    """The ModelSpec of a control network whose weights are at ``weights_path``."""
    return ModelSpec(architecture=ARCHITECTURE, weights_path=weights_path, input_size=INPUT_SIZE,
                     mean=DIGITS_MEAN, std=DIGITS_STD, num_classes=NUM_CLASSES)


def write_controls(directory: str | Path | None = None) -> dict[str, Control]:
    """The control networks by name. With ``directory``, their weights are copied there first
    (e.g. to upload them as checkpoints) and the specs point to the copies."""
    source = weights_directory()
    controls = {}
    for name in CONTROLS:
        path = source / f"{name}.safetensors"
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
            path = Path(shutil.copyfile(path, Path(directory) / path.name))
        controls[name] = Control(name=name, role=ROLES[name], spec=control_spec(str(path)))
    return controls


def write_control_manifest(directory: str | Path) -> Path:
    """Copy the controls into ``directory`` with the ``models.json`` that ``python -m
    iri_engine.reproduce`` reads (the two controls as subjects, the observer as reader and as
    perceptual distance); returns the manifest's path."""
    controls = write_controls(directory)
    stages = ["layer1", "layer2", "layer3", PENULTIMATE]

    def entry(name: str, role: str, layers: list[str], as_name: str | None = None) -> dict:
        spec = controls[name].spec
        return {"name": as_name or name, "architecture": spec.architecture, "weights": Path(spec.weights_path).name,
                "input_size": spec.input_size, "mean": list(spec.mean), "std": list(spec.std),
                "num_classes": spec.num_classes, "layers": layers, "role": role}

    entries = [entry("standard", "subject", stages), entry("robust", "subject", stages),
               entry("observer", "observer", [PENULTIMATE]),
               entry("observer", "distance", ["layer1", "layer2"], as_name="observer-distance")]
    path = Path(directory) / "models.json"
    path.write_text(json.dumps(entries, indent=2) + "\n")
    return path


def digits(split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """scikit-learn's digits as (N, 3, 32, 32) images in [0, 1] and (N,) labels.

    ``split``: "train" (1,500 images) or "test" (the 297 held out, in a fixed shuffled order).
    Each 8 x 8 digit is scaled from 0-16 to [0, 1], upsampled bilinearly and repeated over RGB.
    """
    from sklearn.datasets import load_digits  # ships the data: nothing is downloaded

    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    data = load_digits()
    images = torch.tensor(data.images, dtype=torch.float32).div(16.0).unsqueeze(1)
    images = F.interpolate(images, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
    images = images.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()
    labels = torch.tensor(data.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(SPLIT_SEED))
    picked = order[-TEST_SIZE:] if split == "test" else order[:-TEST_SIZE]
    return images[picked], labels[picked]


def balanced_targets(count_per_class: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``count_per_class`` test images of each digit, ordered by class: (N, 3, 32, 32), (N,)."""
    images, labels = digits("test")
    picks = torch.cat([torch.nonzero(labels == c).flatten()[:count_per_class] for c in range(NUM_CLASSES)])
    return images[picks], labels[picks]
