"""Parsing JSON into typed, frozen specs: one error that names the field (docs/conventions.md §8).

The checks every spec of the web side shares, as iri_engine/spec.py has its own: a spec's
``from_dict`` calls these, so a bad value anywhere says which field is at fault and nothing else.
"""

from collections.abc import Collection, Mapping
from typing import Any

from django.core.exceptions import ValidationError


class SpecError(ValidationError):
    """A spec is malformed; the message names the field. A ValidationError, so forms and the API
    show it to the person who sent it."""


def known_keys(data: Any, allowed: Collection[str], *, what: str) -> Mapping[str, Any]:
    """``data`` as a mapping whose keys are all in ``allowed``."""
    if not isinstance(data, Mapping):
        raise SpecError(f"{what} must be a JSON object, not {type(data).__name__}.")
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise SpecError(f"Unknown {what} options: {', '.join(unknown)}.")
    return data


def whole(value: Any, *, field: str, low: int, optional: bool = False) -> int | None:
    """A whole number of at least ``low`` (None too when optional); JSON true is not 1."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise SpecError(f"{field} must be a whole number of at least {low}.")
    return value


def flag(value: Any, *, field: str) -> bool:
    if not isinstance(value, bool):
        raise SpecError(f"{field} must be true or false.")
    return value


def one_of(value: Any, *, field: str, choices: Collection[str], optional: bool = False) -> str | None:
    if value is None and optional:
        return None
    if value not in choices:
        raise SpecError(f"{field} must be one of {', '.join(choices)}.")
    return value
