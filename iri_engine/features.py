"""The representation g_l(x) at named layers, computing nothing past the deepest one.

docs/method.md §1: "Computing past the target layer is wasted work." torchvision's
``create_feature_extractor`` traces the network with torch.fx and keeps only the nodes the
requested outputs depend on, so the forward stops at the deepest requested layer.

"Fake ReLU" (docs/method.md §1, both papers): the ReLU that produces the matched layer's output is
replaced by one whose forward is ``relu`` and whose backward is the identity, so units that are
dead at the current iterate still pass gradient.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence

import torch
from torch import fx, nn
from torch.nn import functional as F

from iri_engine.architectures import fx_functions
from iri_engine.devices import bf16_pays
from iri_engine.models import OUTPUT_LAYER, LoadedModel, check_layers


class FakeReLU(torch.autograd.Function):
    """relu forward, identity backward (Engstrom et al.'s robustness library; docs/method.md §1)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return x.clamp(min=0)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return grad


def fake_relu(x: torch.Tensor) -> torch.Tensor:
    """Apply FakeReLU; any shape."""
    return FakeReLU.apply(x)


# Ops between a ReLU and the matched layer's output that commute with relu (pooling, reshaping),
# so the ReLU behind them is still "the ReLU at the target layer" (e.g. penultimate avgpool).
_PASS_MODULES = (nn.AdaptiveAvgPool2d, nn.AvgPool2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d,
                 nn.Flatten, nn.Dropout, nn.Identity)
_PASS_FUNCTIONS = {torch.flatten, F.adaptive_avg_pool2d, F.avg_pool2d, F.max_pool2d, F.dropout,
                   torch.nn.functional.adaptive_max_pool2d}
_PASS_METHODS = {"view", "reshape", "flatten", "contiguous"}
_RELU_FUNCTIONS = {F.relu, torch.relu, torch.relu_}


def _is_kind(gm: fx.GraphModule, node: fx.Node, modules: tuple, functions: set, methods: set) -> bool:
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), modules)
    if node.op == "call_function":
        return node.target in functions
    return node.op == "call_method" and node.target in methods


def _relu_behind(gm: fx.GraphModule, node: fx.Node) -> fx.Node | None:
    while _is_kind(gm, node, _PASS_MODULES, _PASS_FUNCTIONS, _PASS_METHODS):
        node = node.args[0]
    return node if _is_kind(gm, node, (nn.ReLU,), _RELU_FUNCTIONS, {"relu", "relu_"}) else None


def _install_fake_relu(gm: fx.GraphModule) -> int:
    """Swap the ReLU feeding each returned output for FakeReLU; returns how many were swapped."""
    output = next(n for n in gm.graph.nodes if n.op == "output")
    swapped = 0
    for node in dict(output.args[0]).values():
        relu = _relu_behind(gm, node)
        if relu is None:
            continue
        with gm.graph.inserting_after(relu):
            fake = gm.graph.call_function(fake_relu, (relu.args[0],))
        relu.replace_all_uses_with(fake)
        gm.graph.erase_node(relu)
        swapped += 1
    gm.graph.lint()
    gm.recompile()
    return swapped


def _fold_batchnorm(gm: fx.GraphModule) -> fx.GraphModule:
    """Fold eval-mode BatchNorm into the convolution before it (same function, fewer ops: a
    measured speed-up of the step, bench/engine.py). Works on the extractor's own copy of the
    module tree; the loaded network is untouched. Falls back to the unfolded graph on failure."""
    from torch.fx.experimental.optimization import fuse  # lazy: an experimental module, needed only when folding

    try:
        folded = fuse(gm, inplace=True, no_trace=True)
    except Exception:  # noqa: BLE001 - an optimisation must never stop a run
        return gm
    for param in folded.parameters():  # the folded convs are new Parameters: freeze them too
        param.requires_grad_(False)
    return folded.to(memory_format=torch.channels_last)


# The modules whose parameters autocast casts to the low-precision dtype on every call (conv and
# linear are on its lower-precision list on CPU and CUDA).
_AUTOCAST_CAST_MODULES = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)


def _precast_parameters(module: torch.nn.Module, dtype: torch.dtype) -> torch.nn.Module:
    """A copy of ``module`` whose conv and linear parameters are already ``dtype``.

    Autocast casts frozen weights afresh on every call (its cache keeps only casts of weights
    that require grad); casting them once gives the same numbers without that copy per step.
    The copy leaves the loaded network and other extractors, which may share modules, untouched.
    """
    module = copy.deepcopy(module)
    for layer in module.modules():
        if isinstance(layer, _AUTOCAST_CAST_MODULES):
            layer.to(dtype)
    return module


class _Captured(Exception):
    """Raised by the last hook: every requested layer is captured, the rest of the forward is waste."""


class HookedLayers(nn.Module):
    """Outputs of named submodules of a network torch.fx cannot trace, via forward hooks.

    The forward stops (by an exception the caller never sees) as soon as every requested layer
    has been computed, so, as with the traced extractor, nothing past the deepest one runs.
    Returns {layer: output}. No fake ReLU or BatchNorm folding: there is no graph to rewrite.
    """

    def __init__(self, network: nn.Module, layers: Sequence[str]) -> None:
        super().__init__()
        self.network, self.layers = network, tuple(layers)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        captured: dict[str, torch.Tensor] = {}

        def keep(name: str):
            def hook(module, inputs, output):
                captured[name] = output
                if len(captured) == len(self.layers):
                    raise _Captured
            return hook

        handles = [self.network.get_submodule(name).register_forward_hook(keep(name)) for name in self.layers]
        try:
            self.network(x)
        except _Captured:
            pass
        finally:
            for handle in handles:
                handle.remove()
        return captured


def autocast_dtype(loaded: LoadedModel, precision: str) -> torch.dtype | None:
    """The autocast dtype for the network forward: bf16 where it pays ("auto"), else None."""
    if precision == "fp32":
        return None
    if precision != "auto":
        raise ValueError(f"unknown precision {precision!r}")
    return torch.bfloat16 if bf16_pays(loaded.device) else None


class FeatureExtractor:
    """Activations of a loaded model at ``layers`` for [0, 1] images.

    Call with x (B, 3, H, W) in [0, 1] (already transformed, if transforms are on); returns
    {layer: activation} in float32 with the layer's own shape, e.g. (B, C, h, w). Normalisation
    happens inside; the forward stops at the deepest layer. ``dtype=torch.bfloat16`` runs the
    network under autocast (outputs are cast back to float32 for the loss).
    """

    def __init__(self, loaded: LoadedModel, layers: Sequence[str], *, fake_relu: bool = False,
                 dtype: torch.dtype | None = None, fold_batchnorm: bool = True) -> None:
        check_layers(loaded, layers)
        self.loaded, self.layers, self.dtype = loaded, tuple(layers), dtype
        self.fake_relu_swaps = 0
        if loaded.is_torchscript:
            self._module = loaded.network  # only OUTPUT_LAYER exists (check_layers ensured it)
            return
        if not loaded.traced:
            self._module = HookedLayers(loaded.network, self.layers)
            return
        _, create_feature_extractor = fx_functions(loaded.network)
        self._module = create_feature_extractor(loaded.network, {name: name for name in layers})
        if fold_batchnorm:
            self._module = _fold_batchnorm(self._module)
        if fake_relu:
            self.fake_relu_swaps = _install_fake_relu(self._module)
        if dtype is not None:
            self._module = _precast_parameters(self._module, dtype)

    def _autocast(self):
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.loaded.device.type, dtype=self.dtype)

    def __call__(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        if x.ndim != 4 or x.shape[1] != 3:
            raise ValueError(f"expected images of shape (B, 3, H, W), got {tuple(x.shape)}")
        x = self.loaded.normalize(x).contiguous(memory_format=torch.channels_last)
        with self._autocast():
            out = self._module(x)
        if self.loaded.is_torchscript:
            out = {OUTPUT_LAYER: out}
        return {name: out[name].float() for name in self.layers}

    def flat(self, x: torch.Tensor, layer: str | None = None) -> torch.Tensor:
        """g_l(x) flattened per example: (B, D) float32 (docs/method.md §1 notation)."""
        layer = layer or self.layers[0]
        return self(x)[layer].flatten(1)


def cached_extractor(loaded: LoadedModel, layers: Sequence[str], *, fake_relu: bool = False,
                     dtype: torch.dtype | None = None) -> FeatureExtractor:
    """A FeatureExtractor for ``loaded``, built once per (layers, fake_relu, dtype) and kept on
    the loaded model. Extractors hold no per-call state, so sharing them is safe."""
    key = (tuple(layers), fake_relu, dtype)
    if key not in loaded.extractor_cache:
        loaded.extractor_cache[key] = FeatureExtractor(loaded, layers, fake_relu=fake_relu, dtype=dtype)
    return loaded.extractor_cache[key]
