"""What a participant's page posts, as typed, frozen specs (docs/conventions.md §8).

Participants are anonymous and some are bots, so every body is bounded before it is parsed and
every field is checked here, at the edge, with one error that names it (a 400, never a 500):
the body's size, how deeply its JSON nests, the size of ``client_data``, the reaction time, and
that every string can be stored. Which choice or rating a trial accepts is the service's to say,
from the trial's layout.
"""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest

from surveys.common.specs import SpecError, bounded_json, flag, known_keys, one_of, whole

# The runner's largest post is an answer with its timing and focus/blur events: a few hundred bytes.
MAX_BODY_BYTES = 32 * 1024
MAX_CLIENT_DATA_BYTES = 16 * 1024  # room for some hundreds of focus, blur and fullscreen events
MAX_DEVICE_DATA_BYTES = 4000
MAX_JSON_DEPTH = 6  # client_data -> interactions -> event -> value needs 3
# An answer slower than this cannot come from a live session (sessions silent for an hour end).
MAX_RT_MS = 60 * 60 * 1000
# Trial ids and idempotency keys are URL-safe tokens (surveys/trials/models.py); the runner sends the
# trial's id as its key.
TRIAL_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,64}")


def json_body(request: HttpRequest) -> Mapping[str, Any]:
    """The posted JSON object ({} for an empty body), refused before reading when it is too large."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY_BYTES:
        raise SpecError(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
    if not request.body:
        return {}
    try:
        data = json.loads(request.body, parse_constant=_no_constant)
    except RecursionError:
        raise SpecError(f"The request body nests deeper than {MAX_JSON_DEPTH} levels.") from None
    except ValueError:  # not JSON, not UTF-8, or a number too long to read
        raise SpecError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise SpecError("The request body must be a JSON object.")
    return data  # each field is bounded by the spec that reads it; the spec refuses unknown fields


def _no_constant(name: str) -> None:
    raise SpecError(f"{name} is not a number JSON allows.")


def _text(value: Any, *, field: str, pattern: re.Pattern) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecError(f"{field} must be a string matching {pattern.pattern}.")
    return value


def _object_or_empty(value: Any, *, field: str) -> dict:
    """An optional JSON object: {} when absent."""
    if value is not None and not isinstance(value, dict):
        raise SpecError(f"{field} must be a JSON object.")
    return value or {}


def rt_checked(value: Any) -> float:
    """A reaction time: a finite number of milliseconds from 0 up to MAX_RT_MS."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) \
            or not 0 <= value <= MAX_RT_MS:
        raise SpecError(f"rt_ms must be a number of milliseconds from 0 to {MAX_RT_MS}.")
    return float(value)


@dataclass(frozen=True)
class AnswerPost:
    """One answer: the trial, what was chosen (choice) or rated (rating), the reaction time, the
    runner's idempotency key, and the runner's timing and focus measurements (client_data)."""

    trial: str
    idempotency_key: str
    rt_ms: float
    choice: int | None = None
    rating: int | None = None
    client_data: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> "AnswerPost":
        data = known_keys(data, ("trial", "idempotency_key", "rt_ms", "choice", "rating", "client_data"),
                          what="answer")
        client_data = _object_or_empty(data.get("client_data"), field="client_data")
        return cls(trial=_text(data.get("trial"), field="trial", pattern=TRIAL_ID),
                   idempotency_key=_text(data.get("idempotency_key"), field="idempotency_key",
                                         pattern=IDEMPOTENCY_KEY),
                   rt_ms=rt_checked(data.get("rt_ms")),
                   choice=whole(data.get("choice"), field="choice", low=0, optional=True),
                   rating=whole(data.get("rating"), field="rating", low=0, optional=True),
                   client_data=bounded_json(client_data, field="client_data",
                                            max_bytes=MAX_CLIENT_DATA_BYTES, max_depth=MAX_JSON_DEPTH))

    def to_dict(self) -> dict:
        return {"trial": self.trial, "idempotency_key": self.idempotency_key, "rt_ms": self.rt_ms,
                "choice": self.choice, "rating": self.rating, "client_data": self.client_data}


@dataclass(frozen=True)
class DevicePost:
    """The browser check's result: whether the device can show the study, and what it measured."""

    compatible: bool
    data: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> "DevicePost":
        data = known_keys(data, ("compatible", "data"), what="device check")
        measured = _object_or_empty(data.get("data"), field="data")
        return cls(compatible=flag(data.get("compatible"), field="compatible"),
                   data=bounded_json(measured, field="data", max_bytes=MAX_DEVICE_DATA_BYTES,
                                     max_depth=MAX_JSON_DEPTH))

    def to_dict(self) -> dict:
        return {"compatible": self.compatible, "data": self.data}


QUESTION_PHASES = ("before", "after")


@dataclass(frozen=True)
class QuestionAnswersPost:
    """The answers to one phase of the study's questions (before the trials or after them); which
    answers a question allows is the study's to say (surveys/studies/questions.py: answers_check)."""

    phase: str
    answers: dict = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any) -> "QuestionAnswersPost":
        data = known_keys(data, ("phase", "answers"), what="question answers")
        answers = data.get("answers")
        if not isinstance(answers, dict):
            raise SpecError("answers must be a JSON object of question id -> answer.")
        return cls(phase=one_of(data.get("phase"), field="phase", choices=QUESTION_PHASES),
                   answers=bounded_json(answers, field="answers", max_bytes=MAX_CLIENT_DATA_BYTES, max_depth=2))

    def to_dict(self) -> dict:
        return {"phase": self.phase, "answers": self.answers}
