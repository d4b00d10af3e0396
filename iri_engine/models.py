"""Loading a network from a ModelSpec, safely, and describing its layers.

Loading a weights-only checkpoint never executes code from it: ``.safetensors`` go through
safetensors, and anything else through ``torch.load(weights_only=True)``, whose restricted
unpickler refuses arbitrary Python objects (a pickled whole model, or a payload with a malicious
``__reduce__``) before running any of it. A TorchScript archive is code (its operators read and
write files): it is loaded only with ``allow_code=True``, which only the confined child of
``iri_engine.sandbox`` passes.
The model's mean/std normalisation is applied inside the forward (docs/method.md §5), so the rest of
the engine works in [0, 1] pixel space.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import pickle
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from iri_engine.architectures import ArchitectureError, build_architecture, fx_functions
from iri_engine.spec import ModelSpec

TORCHSCRIPT = "torchscript"
# The single "layer" of a TorchScript model: its forward output (submodule hooks are not
# supported on ScriptModules, so inner layers cannot be reached).
OUTPUT_LAYER = "output"
# Wrappers a training script often puts around a state_dict; unwrapped when they hold tensors.
_STATE_DICT_WRAPPERS = ("state_dict", "model_state_dict", "model", "net")
_HASH_CHUNK = 1 << 20  # bytes read at a time while hashing a checkpoint


class ModelLoadError(ValueError):
    """The model cannot be built or its checkpoint loaded; the message says what to do."""


class UnknownLayerError(ValueError):
    """A requested layer is not a node of the model; the message lists close matches."""


@dataclass(frozen=True)
class ModelInfo:
    """What registration needs to know about a model (``python -m iri_engine.inspect``).

    ``layer_names``: eval-mode feature-extraction node names, without the input ``"x"``.
    ``module_names``: names of submodules that may also be requested (e.g. ``"layer3"``: the
    output of its last node). ``num_outputs``: width of the output for classifiers.
    """

    layer_names: list[str]
    checkpoint_sha256: str | None
    is_classifier: bool
    num_outputs: int | None
    module_names: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"layer_names": list(self.layer_names), "module_names": list(self.module_names),
                "checkpoint_sha256": self.checkpoint_sha256, "is_classifier": self.is_classifier,
                "num_outputs": self.num_outputs}


@dataclass(eq=False)
class LoadedModel:
    """A frozen, eval-mode network on a device, with its normalisation.

    ``network`` takes normalised inputs; ``forward(x)`` and ``normalize(x)`` take (B, 3, H, W)
    images in [0, 1]. Parameters have ``requires_grad=False``: only the image gets gradients.
    """

    network: nn.Module
    spec: ModelSpec
    device: torch.device
    checkpoint_sha256: str | None
    is_classifier: bool
    num_outputs: int | None
    mean: torch.Tensor  # (1, 3, 1, 1) on device
    std: torch.Tensor  # (1, 3, 1, 1) on device
    _layer_cache: tuple[list[str], list[str], bool] | None = field(default=None, repr=False)
    # Traced feature extractors by (layers, options): tracing and folding cost ~0.1-0.5 s, which
    # repeated generate() calls on one loaded model (a worker's batches) should pay once.
    extractor_cache: dict = field(default_factory=dict, repr=False)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [0, 1] -> (x - mean) / std, same shape (docs/method.md §5)."""
        return (x - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The network's output for [0, 1] images (normalisation applied inside)."""
        return self.network(self.normalize(x))

    __call__ = forward

    @property
    def is_torchscript(self) -> bool:
        return isinstance(self.network, torch.jit.ScriptModule)

    def layer_names(self) -> list[str]:
        """Eval-mode graph node names, excluding the input (computed once, then cached); for a
        network torch.fx cannot trace, its submodule names (reached with forward hooks)."""
        return self._layers()[0]

    def module_names(self) -> list[str]:
        """Submodule names that resolve to a node (their last op), e.g. ``"layer3"``."""
        return self._layers()[1]

    @property
    def traced(self) -> bool:
        """Whether layers are graph nodes (torch.fx); False: submodules reached by hooks."""
        return self._layers()[2]

    def _layers(self) -> tuple[list[str], list[str], bool]:
        if self._layer_cache is None:
            self._layer_cache = _graph_layers(self.network)
        return self._layer_cache


def sha256_file(path: str) -> str:
    """Hex SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_HASH_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _build_architecture(spec: ModelSpec) -> nn.Module:
    try:
        return build_architecture(spec.architecture, num_classes=spec.num_classes, init_seed=spec.init_seed)
    except ArchitectureError as exc:
        raise ModelLoadError(str(exc)) from None


def _is_torchscript_archive(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(name.endswith("constants.pkl") or "/code/" in name for name in archive.namelist())


_PICKLE_REFUSED = (
    "The checkpoint {name} is not a plain state_dict: it contains pickled Python objects "
    "(e.g. a whole saved model), which are never executed here for safety. Export it with "
    "torch.save(model.state_dict(), 'weights.pt'), safetensors.torch.save_file(model.state_dict(), "
    "'weights.safetensors'), or as TorchScript with torch.jit.save(torch.jit.script(model), "
    "'model.pt') and architecture 'torchscript'."
)


def _read_state_dict(path: str) -> dict[str, torch.Tensor]:
    name = os.path.basename(path)
    if path.endswith(".safetensors"):
        from safetensors import SafetensorError  # lazy: only for .safetensors checkpoints
        from safetensors.torch import load_file  # lazy: only for .safetensors checkpoints

        try:
            return load_file(path, device="cpu")
        except (SafetensorError, OSError, ValueError) as exc:
            raise ModelLoadError(f"Cannot read safetensors file {name}: {exc}") from None
    if _is_torchscript_archive(path):
        raise ModelLoadError(f"{name} is a TorchScript archive; register it with architecture "
                             f"'torchscript'.")
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ModelLoadError(_PICKLE_REFUSED.format(name=name)) from None
    except (RuntimeError, OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelLoadError(f"Cannot read checkpoint {name}: {exc}") from None
    return _unwrap_state_dict(loaded, name)


def _unwrap_state_dict(loaded: object, name: str) -> dict[str, torch.Tensor]:
    if isinstance(loaded, dict):
        for key in _STATE_DICT_WRAPPERS:
            inner = loaded.get(key)
            if isinstance(inner, dict) and inner and all(isinstance(v, torch.Tensor) for v in inner.values()):
                loaded = inner
                break
    if not isinstance(loaded, dict) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise ModelLoadError(f"{name} does not hold a state_dict (a mapping of names to tensors); "
                             f"got {type(loaded).__name__}.")
    keys = list(loaded)
    if keys and all(k.startswith("module.") for k in keys):  # saved from DataParallel/DDP
        loaded = {k[len("module."):]: v for k, v in loaded.items()}
    return loaded


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], name: str) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        raise ModelLoadError(f"{name} does not match the architecture: "
                             f"missing keys {_few(missing)}; unexpected keys {_few(unexpected)}.")
    wrong = [f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items()
             if tuple(state[k].shape) != tuple(v.shape)]
    if wrong:
        raise ModelLoadError(f"{name} has tensors of the wrong shape (checkpoint vs model): "
                             f"{_few(wrong)}. Check num_classes and the architecture.")
    model.load_state_dict(state, strict=True)


def _few(items: list[str], limit: int = 8) -> str:
    if not items:
        return "none"
    more = f" (+{len(items) - limit} more)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _build_network(spec: ModelSpec, *, allow_code: bool) -> tuple[nn.Module, str | None]:
    path = spec.weights_path
    if path is None:
        return _build_architecture(spec), None
    if not os.path.isfile(path):
        raise ModelLoadError(f"Checkpoint file not found: {path}")
    digest = sha256_file(path)
    if spec.architecture == TORCHSCRIPT:
        if not allow_code:
            raise ModelLoadError(f"{os.path.basename(path)} is a TorchScript archive, which is code: it is "
                                 f"loaded only inside the sandbox (iri_engine.sandbox).")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "torch.jit is deprecated" noise
                return torch.jit.load(path, map_location="cpu"), digest
        except (RuntimeError, ValueError, OSError) as exc:
            raise ModelLoadError(f"Cannot load TorchScript archive {os.path.basename(path)}: "
                                 f"{exc}".strip()) from None
    network = _build_architecture(spec)
    _load_weights(network, _read_state_dict(path), os.path.basename(path))
    return network, digest


def _probe_output(network: nn.Module, spec: ModelSpec, device: torch.device) -> tuple[bool, int | None]:
    """Run one blank image through the model: validates the input size, finds the output kind."""
    x = torch.zeros(1, 3, spec.input_size, spec.input_size, device=device)
    try:
        with torch.no_grad():
            out = network(x)
    except Exception as exc:  # noqa: BLE001 - any failure here means "this model cannot run"
        raise ModelLoadError(f"The model does not run on a {spec.input_size}x{spec.input_size} "
                             f"input: {type(exc).__name__}: {exc}") from None
    if isinstance(out, torch.Tensor) and out.ndim == 2:
        return True, int(out.shape[1])
    return False, None


def load_model(spec: ModelSpec, *, device: torch.device, allow_code: bool = False) -> LoadedModel:
    """Build and load the model of ``spec`` on ``device``: eval mode, parameters frozen.

    Raises ModelLoadError with a user-facing message for an unknown architecture, a missing,
    unreadable, unsafe (pickled objects) or mismatched checkpoint, a model that cannot run, or a
    TorchScript archive without ``allow_code`` (only a confined process may run its code).
    """
    network, digest = _build_network(spec, allow_code=allow_code)
    network = network.eval().to(device)
    for param in network.parameters():
        param.requires_grad_(False)
    if device.type in ("cpu", "cuda") and not isinstance(network, torch.jit.ScriptModule):
        # Measured ~1.5x faster convolutions on CPU (bench/engine.py); same values.
        network = network.to(memory_format=torch.channels_last)
    is_classifier, num_outputs = _probe_output(network, spec, device)
    stats = dict(device=device, dtype=torch.float32)
    return LoadedModel(network=network, spec=spec, device=device, checkpoint_sha256=digest,
                       is_classifier=is_classifier, num_outputs=num_outputs,
                       mean=torch.tensor(spec.mean, **stats).view(1, 3, 1, 1),
                       std=torch.tensor(spec.std, **stats).view(1, 3, 1, 1))


def inspect_model(spec: ModelSpec) -> ModelInfo:
    """Load ``spec`` on CPU, validate it, and describe it (layer names, hash, output kind)."""
    loaded = load_model(spec, device=torch.device("cpu"))
    return ModelInfo(layer_names=loaded.layer_names(), checkpoint_sha256=loaded.checkpoint_sha256,
                     is_classifier=loaded.is_classifier, num_outputs=loaded.num_outputs,
                     module_names=loaded.module_names())


def _graph_layers(network: nn.Module) -> tuple[list[str], list[str], bool]:
    """(node names, module names, traced). A network torch.fx cannot trace (data-dependent
    control flow, say) is matched at its submodules through forward hooks instead."""
    if isinstance(network, torch.jit.ScriptModule):
        return [OUTPUT_LAYER], [], True
    get_graph_node_names, _ = fx_functions(network)
    try:
        _, nodes = get_graph_node_names(network)
    except Exception:  # noqa: BLE001 - tracing failures come in many types
        return [name for name, _ in network.named_modules() if name], [], False
    nodes = [n for n in nodes if n != "x"]
    modules = [name for name, _ in network.named_modules() if name and
               any(n == name or n.startswith(name + ".") for n in nodes)]
    return nodes, [m for m in modules if m not in set(nodes)], True


def check_layers(loaded: LoadedModel, layers: Sequence[str]) -> None:
    """Raise UnknownLayerError unless every name is a node or module name of the model."""
    known = set(loaded.layer_names()) | set(loaded.module_names())
    for layer in layers:
        if layer not in known:
            close = difflib.get_close_matches(layer, sorted(known), n=6, cutoff=0.4)
            hint = f" Close matches: {', '.join(close)}." if close else ""
            raise UnknownLayerError(f"Unknown layer {layer!r} for {loaded.spec.architecture}.{hint}")
