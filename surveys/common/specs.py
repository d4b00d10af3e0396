"""Parsing JSON into typed, frozen specs: one error that names the field (docs/conventions.md §8).

The checks every spec of the web side shares, as iri_engine/spec.py has its own: a spec's
``from_dict`` calls these, so a bad value anywhere says which field is at fault and nothing else.
"""

import json
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


def is_text(value: Any, *, limit: int, blank: bool = True) -> bool:
    """A string of at most ``limit`` characters that PostgreSQL can store (non-blank unless ``blank``)."""
    return isinstance(value, str) and len(value) <= limit and storable_text(value) and (blank or bool(value.strip()))


def text(value: Any, *, field: str, limit: int, blank: bool = True) -> str:
    """``value`` when it is_text, else a SpecError naming ``field``."""
    if not is_text(value, limit=limit, blank=blank):
        raise SpecError(f"{field} must be {'' if blank else 'non-empty '}text of at most {limit} characters.")
    return value


def bounded_json(value: Any, *, field: str, max_bytes: int, max_depth: int) -> Any:
    """Parsed JSON that fits in ``max_bytes`` (as compact JSON) and nests at most ``max_depth`` levels
    (a bare number or string is depth 0), every string storable in PostgreSQL's jsonb (no NUL, no
    lone surrogate). Walked without recursion, so a deep value is refused, not a RecursionError."""
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, Mapping | list):
            if depth >= max_depth:
                raise SpecError(f"{field} nests deeper than {max_depth} levels.")
            children = [*item.keys(), *item.values()] if isinstance(item, Mapping) else item
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and not storable_text(item):
            raise SpecError(f"{field} holds a string with a NUL or an unpaired surrogate character.")
    if len(json.dumps(value, separators=(",", ":"))) > max_bytes:
        raise SpecError(f"{field} is larger than {max_bytes} bytes.")
    return value


def storable_text(text: str) -> bool:
    """Text PostgreSQL can store: no NUL character, and encodable as UTF-8 (no lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str, *, limit: int) -> str:
    """Free text a browser sent (form fields, headers), cut to ``limit`` characters and stripped of
    control characters, which no measurement or platform id contains and PostgreSQL may refuse."""
    return "".join(char for char in text[:limit] if char.isprintable())
