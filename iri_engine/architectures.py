"""Which architectures a ModelSpec may name, and how each is built (never downloading weights).

``ModelSpec.architecture`` takes one of:

- a torchvision classification model name, e.g. ``resnet18``;
- ``timm:<name>``, a timm model built with ``pretrained=False`` (the lab uploads the weights);
- ``installed:<name>``, an architecture that whoever runs the workers installed as a Python
  distribution declaring an entry point in the ``iris.architectures`` group: ``<name> =
  "package.module:factory"``, where ``factory(num_classes=None) -> nn.Module``. Code is never
  uploaded: only what the operator installed can be named;
- ``torchscript`` (handled by ``iri_engine.models``: the archive is the architecture).

Every builder runs under a forked RNG seeded with ``init_seed``, so a random init depends on
nothing else and leaves the caller's random state untouched. Importing this module loads no
torch (``installed_names`` reads package metadata only), so the web process may list what the
workers can build.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn  # for annotations only: this module loads without torch

TIMM_PREFIX = "timm:"
INSTALLED_PREFIX = "installed:"
ENTRY_POINT_GROUP = "iris.architectures"


class ArchitectureError(ValueError):
    """The architecture cannot be found or built; the message says what is available."""


def torchvision_names() -> list[str]:
    """torchvision classification model names (``torchvision.models.list_models``)."""
    import torchvision  # heavy; only needed when a model is built

    return sorted(torchvision.models.list_models(module=torchvision.models))


def timm_names() -> list[str]:
    """timm model names, without the ``timm:`` prefix; empty when timm is not installed."""
    try:
        import timm  # optional, heavy
    except ImportError:
        return []
    return sorted(timm.list_models())


def installed_names() -> list[str]:
    """Entry point names in the ``iris.architectures`` group, without the prefix."""
    return sorted({point.name for point in entry_points(group=ENTRY_POINT_GROUP)})


def build_architecture(name: str, *, num_classes: int | None, init_seed: int) -> nn.Module:
    """A randomly initialised network for the architecture ``name`` (see the module docstring).

    Raises ArchitectureError for an unknown name (close names listed) or a failed build.
    """
    import torch  # heavy; only workers build networks
    from torch import nn  # lazy: with torch above

    build = _builder(name)
    kwargs = {} if num_classes is None else {"num_classes": num_classes}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(init_seed)
        try:
            network = build(**kwargs)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise ArchitectureError(f"Cannot build {name!r}: {exc}") from None
    if not isinstance(network, nn.Module):
        raise ArchitectureError(f"{name!r} built a {type(network).__name__}, not a torch.nn.Module")
    return network


def _builder(name: str) -> Callable[..., nn.Module]:
    if name.startswith(TIMM_PREFIX):
        return _timm_builder(name[len(TIMM_PREFIX):])
    if name.startswith(INSTALLED_PREFIX):
        return _installed_builder(name[len(INSTALLED_PREFIX):])
    import torchvision  # lazy: heavy; only when a network is built

    _require(name, torchvision_names(), "a torchvision classification model name, 'timm:<name>', "
             "'installed:<name>' or 'torchscript'")
    return lambda **kwargs: torchvision.models.get_model(name, weights=None, **kwargs)


def _timm_builder(name: str) -> Callable[..., nn.Module]:
    try:
        import timm  # lazy: optional and heavy
    except ImportError:
        raise ArchitectureError("timm architectures need the timm package on this worker") from None
    _require(name, timm_names(), "a timm model name after 'timm:'")
    # pretrained=False: weights come from the lab's upload, never from a hub.
    return lambda **kwargs: timm.create_model(name, pretrained=False, **kwargs)


def _installed_builder(name: str) -> Callable[..., nn.Module]:
    points = [point for point in entry_points(group=ENTRY_POINT_GROUP) if point.name == name]
    if not points:
        _require(name, installed_names(), f"an entry point name of the {ENTRY_POINT_GROUP!r} group "
                 "installed on this worker")
    try:
        return points[0].load()
    except (ImportError, AttributeError) as exc:
        raise ArchitectureError(f"The installed architecture {name!r} cannot be imported: {exc}") from None


def _require(name: str, known: list[str], expected: str) -> None:
    if name in known:
        return
    close = difflib.get_close_matches(name, known, n=5, cutoff=0.5)
    hint = f" Did you mean: {', '.join(close)}?" if close else ""
    raise ArchitectureError(f"Unknown architecture {name!r}.{hint} Use {expected}.")


def fx_functions(network: nn.Module) -> tuple[Callable, Callable]:
    """``(get_graph_node_names, create_feature_extractor)`` for tracing ``network`` with torch.fx:
    timm's versions for timm models (they know which of timm's modules and functions to keep
    whole), torchvision's for everything else."""
    if type(network).__module__.startswith("timm."):
        from timm.models import create_feature_extractor, get_graph_node_names  # lazy: only for timm networks

        return get_graph_node_names, create_feature_extractor
    from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names  # lazy: heavy

    return get_graph_node_names, create_feature_extractor
