"""IRIS engine: generate identically represented inputs (model metamers) and score them.

A plain PyTorch library (docs/architecture.md; docs/conventions.md §12): no Django, no import-time device or
global state; callers pass the device and the ``torch.Generator``.

This ``__init__`` deliberately imports nothing heavy: the web process imports ``iri_engine.spec``
to validate requests and must not load torch by doing so. Import the modules you need, e.g.
``from iri_engine.optimize import generate``.
"""

from iri_engine.version import ENGINE_VERSION, code_version

__all__ = ["ENGINE_VERSION", "code_version"]
