"""``python -m iri_engine.inspect '<ModelSpec JSON>'``: describe a model for registration.

Prints the ModelInfo as JSON on stdout and exits 0, or prints ``{"error": "<message>"}`` and
exits 1. The web process runs this in a subprocess so that it never imports torch itself.
"""

from __future__ import annotations

import json
import sys
import warnings

from iri_engine.spec import ModelSpec, SpecError


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        return _fail("usage: python -m iri_engine.inspect '<ModelSpec JSON>'")
    try:
        data = json.loads(argv[0])
    except json.JSONDecodeError as exc:
        return _fail(f"the argument is not valid JSON: {exc}")

    try:
        spec = ModelSpec.from_dict(data)
    except SpecError as exc:
        return _fail(f"invalid model spec: {exc}")
    # Imported here, after the cheap checks, because it loads torch (seconds).
    from iri_engine.models import ModelLoadError, inspect_model  # lazy: loads torch (seconds)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # library chatter must not reach the caller
            info = inspect_model(spec)
    except ModelLoadError as exc:
        return _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - the caller needs a JSON answer whatever happens
        return _fail(f"unexpected error while inspecting the model: {type(exc).__name__}: {exc}")
    print(json.dumps(info.to_dict()))
    return 0


def _fail(message: str) -> int:
    print(json.dumps({"error": message}))
    return 1


if __name__ == "__main__":
    sys.exit(main())
