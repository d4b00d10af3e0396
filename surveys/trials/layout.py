"""A trial's layout (Trial.layout) as a typed, frozen spec: what each screen slot shows, and which
option is right. Server-only: the participant's page gets slot positions and opaque image URLs.

Stored JSON: ``{"query": ref | null, "options": [ref, ...] | null, "labels": [category, ...],
"answer": index | null, "anchor": "identical" | "unrelated"}`` ("labels" only on classification
trials, "anchor" only on similarity's attention checks). An image ref ``[role, stimulus_id]`` names
that stimulus's target, seed or IRI PNG. Every image of one trial comes from stimuli of one job, so
sizes and preprocessing never differ between the right option and the others.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from surveys.common.specs import SpecError, known_keys, one_of, whole

ROLES = ("target", "seed", "iri")
ANCHORS = ("identical", "unrelated")
# Similarity anchors count as passed at or above / at or below these ratings (docs/method.md §2).
IDENTICAL_PASS_AT_LEAST = 5
UNRELATED_PASS_AT_MOST = 3
QUERY_SLOT = "q"


@dataclass(frozen=True)
class ImageRef:
    """One of a stimulus's three PNGs."""

    role: str
    stimulus_id: int

    @classmethod
    def from_json(cls, value: Any, *, field: str) -> "ImageRef":
        if not isinstance(value, Sequence) or isinstance(value, str) or len(value) != 2:
            raise SpecError(f"{field} must be [role, stimulus id].")
        return cls(role=one_of(value[0], field=f"{field} role", choices=ROLES),
                   stimulus_id=whole(value[1], field=f"{field} stimulus id", low=1))

    def to_json(self) -> list:
        return [self.role, self.stimulus_id]


@dataclass(frozen=True)
class TrialLayout:
    query: ImageRef | None = None
    options: tuple[ImageRef, ...] = ()
    labels: tuple[str, ...] = ()  # classification: category names, in the order shown
    answer: int | None = None  # index of the right option or label; None when nothing is right
    anchor: str | None = None  # similarity's attention checks

    @property
    def choices(self) -> int:
        """How many answers the screen offers: its image options, or its category names."""
        return len(self.options) or len(self.labels)

    def image(self, slot: str) -> ImageRef | None:
        """The image in a screen slot: "q" (the query) or "0", "1", ... (the options)."""
        if slot == QUERY_SLOT:
            return self.query
        index = int(slot) if slot.isdigit() else len(self.options)
        return self.options[index] if index < len(self.options) else None

    def anchor_passed(self, rating: int) -> bool:
        if self.anchor == "identical":
            return rating >= IDENTICAL_PASS_AT_LEAST
        return rating <= UNRELATED_PASS_AT_MOST

    def is_correct(self, *, choice: int | None, rating: int | None) -> bool | None:
        """Chose the right option (target, identical image, right category); ratings: anchors only."""
        if rating is not None:
            return self.anchor_passed(rating) if self.anchor else None
        return choice == self.answer

    @classmethod
    def from_dict(cls, data: Mapping) -> "TrialLayout":
        data = known_keys(data, ("query", "options", "labels", "answer", "anchor"), what="trial layout")
        query = data.get("query")
        layout = cls(
            query=None if query is None else ImageRef.from_json(query, field="query"),
            options=tuple(ImageRef.from_json(ref, field=f"options[{i}]")
                          for i, ref in enumerate(data.get("options") or [])),
            labels=tuple(str(label) for label in data.get("labels") or []),
            answer=whole(data.get("answer"), field="answer", low=0, optional=True),
            anchor=one_of(data.get("anchor"), field="anchor", choices=ANCHORS, optional=True),
        )
        if layout.answer is not None and layout.answer >= layout.choices:
            raise SpecError(f"answer {layout.answer} is not one of the {layout.choices} choices.")
        return layout

    def to_dict(self) -> dict:
        data = {"query": self.query and self.query.to_json(),
                "options": [ref.to_json() for ref in self.options] or None, "answer": self.answer}
        if self.labels:
            data["labels"] = list(self.labels)
        if self.anchor:
            data["anchor"] = self.anchor
        return data

