"""The engine's code version, stored with every IRI (docs/method.md §1, "Store with every IRI").

Bump ENGINE_VERSION whenever a change can alter a generated image or a score, so stored stimuli
can always be traced back to the code that made them.
"""

ENGINE_VERSION = "0.1.0"


def code_version() -> str:
    """Return the version string stored beside each IRI, e.g. ``"iri_engine 0.1.0"``."""
    return f"iri_engine {ENGINE_VERSION}"
