"""A study's questions before and after the trials (demographics, debriefing questions) as typed,
frozen specs, and the check of a participant's answers against them (docs/method.md §2, "Questions").

Four kinds only, each with its own few options: ``choice`` (one of ``options``), ``number`` (between
``min`` and ``max``), ``text`` (at most ``max_length`` characters) and ``scale`` (a whole number from 1
to ``points``, with ``low_label`` and ``high_label`` at its ends). ``questions_from_list`` is the one
edge where a list of them is checked (one SpecError naming the question and the field);
``answers_check`` is the one edge where a participant's answers are: an unknown question, a missing
required answer or a value out of bounds is refused, naming the question.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext

from surveys.common.specs import SpecError, flag, is_text, known_keys, one_of, text, whole

QUESTION_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
KINDS = ("choice", "number", "text", "scale")
# What each kind takes besides id, kind, prompt and required; defaults live here and nowhere else.
KIND_OPTIONS: dict[str, dict[str, Any]] = {
    "choice": {"options": None},
    "number": {"min": None, "max": None},
    "text": {"max_length": 500},
    "scale": {"points": 7, "low_label": "", "high_label": ""},
}
MAX_QUESTIONS = 30  # per list: a questionnaire, not a second study
MAX_PROMPT_CHARS = 500
MAX_OPTIONS = 30
MAX_LABEL_CHARS = 200
MAX_TEXT_ANSWER_CHARS = 5000
MAX_SCALE_POINTS = 11


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _number(value: Any, *, field: str, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if not _is_number(value):
        raise SpecError(f"{field} must be a number.")
    return value


@dataclass(frozen=True)
class Question:
    """One question; only the options of its ``kind`` mean anything (the others keep their defaults)."""

    id: str
    kind: str
    prompt: str
    required: bool = True
    options: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None
    max_length: int = 500
    points: int = 7
    low_label: str = ""
    high_label: str = ""

    @classmethod
    def from_dict(cls, data: Any, *, where: str) -> "Question":
        if not isinstance(data, Mapping):
            raise SpecError(f"{where} must be a JSON object.")
        kind = one_of(data.get("kind"), field=f"{where} kind", choices=KINDS)
        full = {"required": True, **KIND_OPTIONS[kind],
                **known_keys(data, {"id", "kind", "prompt", "required", *KIND_OPTIONS[kind]}, what=where)}
        if not isinstance(full.get("id"), str) or not QUESTION_ID.fullmatch(full["id"]):
            raise SpecError(f"{where} id must be lower-case letters, digits and _ (a letter first, at most 40).")
        where = f"Question {full['id']}"
        common = {"id": full["id"], "kind": kind, "required": flag(full["required"], field=f"{where} required"),
                  "prompt": text(full.get("prompt"), field=f"{where} prompt", limit=MAX_PROMPT_CHARS, blank=False)}
        return cls(**common, **_kind_options(kind, full, where=where))

    def to_dict(self) -> dict:
        data = {"id": self.id, "kind": self.kind, "prompt": self.prompt, "required": self.required}
        own = {name: getattr(self, name) for name in KIND_OPTIONS[self.kind]}
        return data | own | ({"options": list(self.options)} if self.kind == "choice" else {})

    def answer(self, value: Any) -> Any:
        """The answer as stored, or a SpecError naming this question. The participant reads the
        message, so it is in the active language (the study's, in the participant views)."""
        names = {"question": self.id, "options": ", ".join(self.options), "limit": self.max_length,
                 "points": self.points, "low": _g(self.min), "high": _g(self.max)}
        refusal = self._refusal(value)
        if refusal:
            raise SpecError(refusal % names)
        return value

    def _refusal(self, value: Any) -> str:
        """Why ``value`` is no answer to this question (a message with %(names)s), or ""."""
        if self.kind == "choice":
            return "" if value in self.options else gettext("The answer to %(question)s must be one of %(options)s.")
        if self.kind == "text":
            if is_text(value, limit=self.max_length, blank=not self.required):
                return ""
            return (gettext("The answer to %(question)s must be non-empty text of at most %(limit)s characters.")
                    if self.required else
                    gettext("The answer to %(question)s must be text of at most %(limit)s characters."))
        if self.kind == "scale":
            if not isinstance(value, bool) and isinstance(value, int) and 1 <= value <= self.points:
                return ""
            return gettext("The answer to %(question)s must be a whole number from 1 to %(points)s.")
        if not _is_number(value):
            return gettext("The answer to %(question)s must be a number.")
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            return _out_of_bounds(self.min, self.max)
        return ""


def _g(number: float | None) -> str:
    return "" if number is None else f"{number:g}"


def _out_of_bounds(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return gettext("The answer to %(question)s must be a number from %(low)s to %(high)s.")
    if low is not None:
        return gettext("The answer to %(question)s must be a number of at least %(low)s.")
    return gettext("The answer to %(question)s must be a number of at most %(high)s.")


def _kind_options(kind: str, full: Mapping, *, where: str) -> dict:
    """The checked options of one kind of question."""
    if kind == "choice":
        options = full["options"]
        if not isinstance(options, list) or not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
            raise SpecError(f"{where} options must be a list of 2 to {MAX_OPTIONS} different texts.")
        return {"options": tuple(text(o, field=f"{where} option", limit=MAX_LABEL_CHARS, blank=False) for o in options)}
    if kind == "number":
        low = _number(full["min"], field=f"{where} min", optional=True)
        high = _number(full["max"], field=f"{where} max", optional=True)
        if low is not None and high is not None and low > high:
            raise SpecError(f"{where} min is above its max.")
        return {"min": low, "max": high}
    if kind == "text":
        length = whole(full["max_length"], field=f"{where} max_length", low=1)
        if length > MAX_TEXT_ANSWER_CHARS:
            raise SpecError(f"{where} max_length must be at most {MAX_TEXT_ANSWER_CHARS}.")
        return {"max_length": length}
    points = whole(full["points"], field=f"{where} points", low=2)
    if points > MAX_SCALE_POINTS:
        raise SpecError(f"{where} points must be at most {MAX_SCALE_POINTS}.")
    return {"points": points,
            "low_label": text(full["low_label"], field=f"{where} low_label", limit=MAX_LABEL_CHARS),
            "high_label": text(full["high_label"], field=f"{where} high_label", limit=MAX_LABEL_CHARS)}


def questions_from_list(data: Any, *, field: str) -> tuple[Question, ...]:
    """A design's list of questions (``field``: questions_before or questions_after), ids unique."""
    if not isinstance(data, list) or len(data) > MAX_QUESTIONS:
        raise SpecError(f"{field} must be a list of at most {MAX_QUESTIONS} questions.")
    questions = tuple(Question.from_dict(item, where=f"{field}[{i}]") for i, item in enumerate(data))
    ids = [question.id for question in questions]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise SpecError(f"{field}: question ids must be unique; repeated: {', '.join(repeated)}.")
    return questions


def answers_check(*, questions: tuple[Question, ...], answers: Any) -> dict:
    """A participant's answers ({question id: value}) as stored; an unanswered optional question is
    left out. Refused with a SpecError naming the question: an id the list lacks, a required question
    without an answer, a value its question does not allow."""
    if not isinstance(answers, Mapping):
        raise SpecError("answers must be a JSON object of question id -> answer.")
    by_id = {question.id: question for question in questions}
    unknown = sorted(set(answers) - set(by_id))
    if unknown:
        raise SpecError(gettext("No such question here: %(questions)s.") % {"questions": ", ".join(unknown)[:200]})
    stored = {}
    for question in questions:
        value = answers.get(question.id)
        if value is None or value == "":
            if question.required:
                raise SpecError(gettext("Question %(question)s needs an answer.") % {"question": question.id})
            continue
        stored[question.id] = question.answer(value)
    return stored
