"""Automatic stand-ins for humans (docs/method.md §3): perceptual-distance proxy alignment and
model-to-model recognition.

``PerceptualDistance`` is LPIPS-style over any loaded model: activations at several layers,
each unit-normalised over channels, squared differences, a 1x1 linear head per layer (the lpips
package's calibrated v0.1 heads via ``from_lpips_heads``) or a plain channel sum, spatial mean,
summed over layers. Proxy alignment scores the 8-bit images as participants see them
(docs/method.md §5) and refuses the distance that generated adversarial IRIs (docs/method.md §1).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch.nn import functional as F

from iri_engine.features import FeatureExtractor
from iri_engine.io import quantize
from iri_engine.models import LoadedModel
from iri_engine.spec import IMAGENET_MEAN, IMAGENET_STD

NORMALIZE_EPS = 1e-10  # as lpips.normalize_tensor
_CHUNK = 32  # images per forward pass when scoring
# LPIPS backbones: torchvision architecture and the node after which each v0.1 head sits
# (the ends of the lpips package's slices of ``features``).
LPIPS_LAYERS = {
    "alex": ("alexnet", ("features.1", "features.4", "features.7", "features.9", "features.11")),
    "vgg": ("vgg16", ("features.3", "features.8", "features.15", "features.22", "features.29")),
    "squeeze": ("squeezenet1_1", ("features.1", "features.4", "features.7", "features.9",
                                  "features.10", "features.11", "features.12")),
}


def _unit_channels(features: torch.Tensor) -> torch.Tensor:
    if features.ndim == 2:  # pooled/flattened layers: one "pixel"
        features = features[:, :, None, None]
    norm = torch.sqrt(torch.sum(features * features, dim=1, keepdim=True))
    return features / (norm + NORMALIZE_EPS)


class PerceptualDistance:
    """D(x, y) -> (B,) for (B, 3, H, W) images in [0, 1]; differentiable in both.

    ``heads``: {layer: (1, C, 1, 1) weights}; without them every layer weighs the same (1).
    """

    def __init__(self, loaded: LoadedModel, layers: Sequence[str], *,
                 heads: dict[str, torch.Tensor] | None = None, name: str | None = None) -> None:
        if not layers:
            raise ValueError("a perceptual distance needs at least one layer")
        self.loaded, self.layers = loaded, tuple(layers)
        self.extractor = FeatureExtractor(loaded, self.layers)
        self.heads = None if heads is None else {k: v.to(loaded.device, torch.float32) for k, v in heads.items()}
        if self.heads is not None and set(self.heads) != set(self.layers):
            raise ValueError(f"heads given for {sorted(self.heads)} but layers are {list(self.layers)}")
        self.name = name or self._default_name()

    def _default_name(self) -> str:
        spec = self.loaded.spec
        weights = (self.loaded.checkpoint_sha256 or f"init{spec.init_seed}")[:12]
        kind = "lpips" if self.heads is not None else "unit"
        return f"{kind}:{spec.architecture}:{weights}:{'+'.join(self.layers)}"

    def _layer_distance(self, layer: str, fx: torch.Tensor, fy: torch.Tensor) -> torch.Tensor:
        diff = (_unit_channels(fx) - _unit_channels(fy)) ** 2  # (B, C, h, w)
        if self.heads is None:
            return diff.sum(dim=1).mean(dim=(1, 2))
        return F.conv2d(diff, self.heads[layer]).mean(dim=(1, 2, 3))

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if x.shape != y.shape:
            raise ValueError(f"D(x, y) needs equal shapes, got {tuple(x.shape)} and {tuple(y.shape)}")
        batch = x.shape[0]
        device = self.loaded.device
        features = self.extractor(torch.cat([x.to(device), y.to(device)]))
        total = torch.zeros(batch, device=device)
        for layer in self.layers:
            fx, fy = features[layer].split(batch)
            total = total + self._layer_distance(layer, fx, fy)
        return total

    @classmethod
    def from_lpips_heads(cls, loaded: LoadedModel, net: str = "alex", *, heads_path: str | None = None,
                         name: str | None = None) -> PerceptualDistance:
        """LPIPS with the lpips package's calibrated v0.1 linear heads on ``loaded``, which must
        be the matching torchvision backbone (alexnet / vgg16 / squeezenet1_1) with the user's
        own weights and ImageNet normalisation. Never downloads anything."""
        if net not in LPIPS_LAYERS:
            raise ValueError(f"unknown lpips net {net!r}; known: {', '.join(LPIPS_LAYERS)}")
        architecture, layers = LPIPS_LAYERS[net]
        if loaded.spec.architecture != architecture:
            raise ValueError(f"lpips {net!r} heads need a {architecture} backbone, got {loaded.spec.architecture}")
        # lpips' ScalingLayer maps [-1, 1] inputs exactly onto ImageNet normalisation of [0, 1] inputs.
        if not (_close(loaded.spec.mean, IMAGENET_MEAN) and _close(loaded.spec.std, IMAGENET_STD)):
            raise ValueError("lpips heads are calibrated on ImageNet normalisation; the backbone's "
                             f"mean/std must be {IMAGENET_MEAN} / {IMAGENET_STD}")
        state = torch.load(heads_path or _packaged_heads(net), map_location="cpu", weights_only=True)
        heads = {layer: state[f"lin{i}.model.1.weight"] for i, layer in enumerate(layers)}
        return cls(loaded, layers, heads=heads, name=name or f"lpips-{net}:{(loaded.checkpoint_sha256 or 'random')[:12]}")


class PixelDistance:
    """Euclidean distance between the images themselves, ``||x - y||_2`` per example: the proxy
    that knows nothing about vision, reported beside the learned ones. (B, 3, H, W) x2 -> (B,)."""

    name = "pixel-l2"

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).flatten(1).norm(dim=1)


def _close(a: Sequence[float], b: Sequence[float], tol: float = 1e-3) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


def _packaged_heads(net: str) -> str:
    import lpips  # only for the location of its shipped head weights

    return os.path.join(os.path.dirname(lpips.__file__), "weights", "v0.1", f"{net}.pth")


def _distances(distance: PerceptualDistance, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([distance(a, b).cpu() for a, b in zip(x.split(_CHUNK), y.split(_CHUNK), strict=True)])


def proxy_alignment(iris: torch.Tensor, targets: torch.Tensor, seeds: torch.Tensor,
                    distances: Sequence[PerceptualDistance], *, exclude: str | None = None) -> dict:
    """Nanda's proxy (docs/method.md §3): an IRI is aligned under D when D(x*, x_t) <= D(x*, x_0).

    iris, targets, seeds: (B, 3, H, W) in [0, 1], rounded to 8 bits first (what participants
    see). The distance named ``exclude`` (the one that generated adversarial IRIs, fooled by
    construction, docs/method.md §1) is dropped and listed under "excluded"; ValueError if none
    is left. Returns {"per_distance": {name: {"aligned", "share", "d_target", "d_seed"}}, "mean",
    "spread" (max - min share), "std", "n", "excluded"}.
    """
    if not iris.shape == targets.shape == seeds.shape:
        raise ValueError("iris, targets and seeds must have the same shape")
    names = [d.name for d in distances]
    if len(set(names)) != len(names):
        raise ValueError(f"distance names must be unique, got {names}")
    kept = [d for d in distances if d.name != exclude]
    if not kept:
        reason = f" ({exclude!r} generated these IRIs, so it is fooled by construction)" if distances else ""
        raise ValueError(f"proxy alignment needs at least one perceptual distance{reason}")
    iris, targets, seeds = quantize(iris), quantize(targets), quantize(seeds)
    per = {d.name: _alignment(d, iris, targets, seeds) for d in kept}
    shares = torch.tensor([entry["share"] for entry in per.values()], dtype=torch.float64)
    return {"per_distance": per, "mean": float(shares.mean()),
            "spread": float(shares.max() - shares.min()),
            "std": float(shares.std(unbiased=False)), "n": int(iris.shape[0]),
            "excluded": [name for name in names if name == exclude]}


def _alignment(distance: PerceptualDistance, iris, targets, seeds) -> dict:
    d_target, d_seed = _distances(distance, iris, targets), _distances(distance, iris, seeds)
    aligned = d_target <= d_seed
    return {"aligned": [bool(a) for a in aligned], "share": float(aligned.double().mean()),
            "d_target": d_target.tolist(), "d_seed": d_seed.tolist()}


def model_to_model(loaded_other: LoadedModel, iris: torch.Tensor, target_classes, *,
                   generator: torch.Generator | None = None, bootstrap: int = 1000) -> dict:
    """Another model's accuracy on a model's IRIs (Feather; docs/method.md §3), bootstrap SEM.

    iris: (B, 3, H, W) in [0, 1], rounded to 8 bits and resized (bilinear, antialiased) to the
    other model's input size if needed; target_classes: (B,) class indices of the targets.
    Returns {"accuracy", "sem", "n", "correct", "predicted"}.
    """
    if not loaded_other.is_classifier:
        raise ValueError("model-to-model recognition needs a classifier")
    classes = torch.as_tensor(target_classes, dtype=torch.long).cpu()
    if classes.shape != (iris.shape[0],):
        raise ValueError(f"need one target class per IRI, got {tuple(classes.shape)} for {iris.shape[0]}")
    images = quantize(iris)
    size = loaded_other.spec.input_size
    if images.shape[-2:] != (size, size):
        images = F.interpolate(images, size=(size, size), mode="bilinear", antialias=True,
                               align_corners=False).clamp(0, 1)
    with torch.no_grad():
        predicted = torch.cat([loaded_other(c.to(loaded_other.device)).argmax(dim=1).cpu()
                               for c in images.split(_CHUNK)])
    correct = (predicted == classes).double()
    generator = generator or torch.Generator().manual_seed(0)
    picks = torch.randint(0, len(correct), (bootstrap, len(correct)), generator=generator,
                          device=generator.device).cpu()
    sem = float(correct[picks].mean(dim=1).std(unbiased=True)) if len(correct) > 1 else 0.0
    return {"accuracy": float(correct.mean()), "sem": sem, "n": int(len(correct)),
            "correct": [bool(c) for c in correct], "predicted": [int(p) for p in predicted]}
