"""A study's design (Study.design) as a typed, frozen spec (docs/method.md §2).

``StudyDesign.from_dict`` is the one edge where a design is checked: unknown options and bad values
raise one SpecError naming the option, and every option left out takes its default here and only
here. ``to_dict`` gives the JSON stored on the study, in full, so a study's design never drifts;
``from_dict(to_dict())`` gives the same design back.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from surveys.common.specs import SpecError, flag, known_keys, one_of, whole
from surveys.studies.paradigms import PARADIGMS, RATING_MIDPOINT, Paradigm, ParadigmTraits
from surveys.studies.questions import Question, questions_from_list

# Options every paradigm has, with their defaults: those of a study one would publish
# (docs/method.md §2): practice with feedback, Feather et al.'s gate (7 right of 12) and their
# catch-trial rate (16 in 400 main trials, one per 25).
COMMON_OPTIONS = {
    "practice": True,  # practice trials with feedback before everything else
    "practice_trials": 3,
    "gate": {"trials": 12, "pass": 7},  # a qualification block; fewer than "pass" right ends the session; None: none
    "catch_every": 25,  # one catch trial per this many main trials; 0 = none
    "participants_per_condition": None,  # the study stops admitting at this many; None = no cap
    "once_per_target": False,  # each participant sees each target once, conditions by Latin square
    "fullscreen": False,
    "min_width": 320,  # the browser check's smallest window, in CSS pixels
    "min_height": 480,
    # Viewing geometry, attention and timing (docs/method.md §2, "Presentation"); see Presentation below.
    "calibrate": False,  # the virtual chinrest (card size, blind-spot distance) before the trials
    "stimulus_deg": None,  # image width in degrees of visual angle; None: sized by the window (CSS)
    "pause_on_leave": False,  # pause when the participant leaves the tab, the window or full screen
    "refuse_phones": False,
    "min_refresh_hz": None,  # refuse displays measured slower than this
    "max_frame_jitter_ms": None,  # refuse displays whose frame intervals vary more than this (SD)
    # Questions before the first trial and after the last (surveys/studies/questions.py); none unless
    # the researcher asks (docs/method.md §2, "Questions").
    "questions_before": [],
    "questions_after": [],
}
PRESENTATION_OPTIONS = ("calibrate", "stimulus_deg", "pause_on_leave", "refuse_phones", "min_refresh_hz",
                        "max_frame_jitter_ms")
MAX_STIMULUS_DEG = 60.0
FOILS = ("seed", "other_target")  # 2AFC's second option: the IRI's seed, or another target


@dataclass(frozen=True)
class Gate:
    """A qualification block: ``trials`` trials, at least ``pass_mark`` right to go on."""

    trials: int
    pass_mark: int

    @classmethod
    def from_dict(cls, data: Any) -> "Gate | None":
        if data is None:
            return None
        if not isinstance(data, Mapping) or set(data) != {"trials", "pass"}:
            raise SpecError('gate must be {"trials": n, "pass": m} or null.')
        gate = cls(trials=whole(data["trials"], field="gate trials", low=1),
                   pass_mark=whole(data["pass"], field="gate pass", low=0))
        if gate.pass_mark > gate.trials:
            raise SpecError("The gate cannot ask for more right answers than it has trials.")
        return gate

    def to_dict(self) -> dict:
        return {"trials": self.trials, "pass": self.pass_mark}


@dataclass(frozen=True)
class Timing:
    """Classification's timed presentation, in milliseconds (Feather et al.: 300/300/300)."""

    fixation_ms: int
    stimulus_ms: int
    mask_ms: int

    @classmethod
    def from_dict(cls, data: Mapping) -> "Timing":
        return cls(fixation_ms=whole(data["fixation_ms"], field="fixation_ms", low=0),
                   stimulus_ms=whole(data["stimulus_ms"], field="stimulus_ms", low=1),
                   mask_ms=whole(data["mask_ms"], field="mask_ms", low=0))

    def to_dict(self) -> dict:
        return {"fixation_ms": self.fixation_ms, "stimulus_ms": self.stimulus_ms, "mask_ms": self.mask_ms}


def _positive(value: Any, *, field: str, high: float) -> float | None:
    """A number in (0, high], or None (the option is off)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= high:
        raise SpecError(f"{field} must be a number above 0 and at most {high:g}, or null.")
    return float(value)


@dataclass(frozen=True)
class Presentation:
    """How exactly the screen is controlled: viewing geometry, attention, and which devices may take part.

    ``stimulus_deg`` sizes images in degrees of visual angle from the participant's calibration; a
    participant whose calibration fails (or a study without one) sees the window-sized fallback, and
    their responses say so (client_data.size_fallback)."""

    calibrate: bool = False
    stimulus_deg: float | None = None
    pause_on_leave: bool = False
    refuse_phones: bool = False
    min_refresh_hz: float | None = None
    max_frame_jitter_ms: float | None = None

    @classmethod
    def from_dict(cls, data: Mapping) -> "Presentation":
        return cls(calibrate=flag(data["calibrate"], field="calibrate"),
                   stimulus_deg=_positive(data["stimulus_deg"], field="stimulus_deg", high=MAX_STIMULUS_DEG),
                   pause_on_leave=flag(data["pause_on_leave"], field="pause_on_leave"),
                   refuse_phones=flag(data["refuse_phones"], field="refuse_phones"),
                   min_refresh_hz=_positive(data["min_refresh_hz"], field="min_refresh_hz", high=1000),
                   max_frame_jitter_ms=_positive(data["max_frame_jitter_ms"], field="max_frame_jitter_ms",
                                                 high=1000))

    def to_dict(self) -> dict:
        return {name: getattr(self, name) for name in PRESENTATION_OPTIONS}


@dataclass(frozen=True)
class StudyDesign:
    """Everything about how a study's trials are drawn and shown. Build it with ``from_dict``."""

    paradigm: str
    practice: bool
    practice_trials: int
    gate: Gate | None
    catch_every: int
    participants_per_condition: int | None
    once_per_target: bool
    fullscreen: bool
    min_width: int
    min_height: int
    foils: str = "seed"  # 2AFC only
    k: int | None = None  # matching: options per trial; classification: categories shown (None: all)
    timing: Timing | None = None  # classification only
    presentation: Presentation = Presentation()
    questions_before: tuple[Question, ...] = ()
    questions_after: tuple[Question, ...] = ()

    @property
    def traits(self) -> ParadigmTraits:
        return PARADIGMS[self.paradigm]

    @property
    def image_options(self) -> int:
        """Image options below the query (or beside each other): 2, k for matching, 0 for classification."""
        options = self.traits.image_options
        return self.k if options is None else options

    @property
    def targets_per_trial(self) -> int:
        """Distinct targets one trial may show; every job of the study needs at least this many."""
        if self.paradigm == Paradigm.TWO_AFC and self.foils == "seed":
            return 1
        return max(1, self.image_options)

    def chance(self, *, categories: int) -> float | None:
        """1/2, 1/K or 1/categories; similarity's scale midpoint (docs/method.md §2)."""
        if self.traits.rated:
            return RATING_MIDPOINT
        options = self.image_options or self.k or categories
        return 1 / options if options else None

    @classmethod
    def from_dict(cls, data: Mapping | None, *, paradigm: str) -> "StudyDesign":
        if paradigm not in PARADIGMS:
            raise SpecError(f"Unknown paradigm {paradigm!r}.")
        own = PARADIGMS[paradigm].options
        given = known_keys(data or {}, {*COMMON_OPTIONS, *own}, what=f"{paradigm} design")
        full = {**COMMON_OPTIONS, **own, **given}
        return cls(
            paradigm=paradigm,
            practice=flag(full["practice"], field="practice"),
            practice_trials=whole(full["practice_trials"], field="practice_trials", low=1),
            gate=Gate.from_dict(full["gate"]),
            catch_every=whole(full["catch_every"], field="catch_every", low=0),
            participants_per_condition=whole(full["participants_per_condition"],
                                             field="participants_per_condition", low=1, optional=True),
            once_per_target=flag(full["once_per_target"], field="once_per_target"),
            fullscreen=flag(full["fullscreen"], field="fullscreen"),
            min_width=whole(full["min_width"], field="min_width", low=0),
            min_height=whole(full["min_height"], field="min_height", low=0),
            foils=one_of(full.get("foils", "seed"), field="foils", choices=FOILS),
            k=whole(full["k"], field="k", low=2, optional=paradigm != Paradigm.MATCHING) if "k" in own else None,
            timing=Timing.from_dict(full) if "stimulus_ms" in own else None,
            presentation=Presentation.from_dict(full),
            **_questions(full),
        )

    def to_dict(self) -> dict:
        data = {"practice": self.practice, "practice_trials": self.practice_trials,
                "gate": self.gate.to_dict() if self.gate else None, "catch_every": self.catch_every,
                "participants_per_condition": self.participants_per_condition,
                "once_per_target": self.once_per_target, "fullscreen": self.fullscreen,
                "min_width": self.min_width, "min_height": self.min_height, **self.presentation.to_dict(),
                "questions_before": [question.to_dict() for question in self.questions_before],
                "questions_after": [question.to_dict() for question in self.questions_after]}
        own = self.traits.options
        if "foils" in own:
            data["foils"] = self.foils
        if "k" in own:
            data["k"] = self.k
        if self.timing:
            data.update(self.timing.to_dict())
        return data


def _questions(full: Mapping) -> dict:
    """Both lists of questions; an id may appear in only one, since the export has a column per id."""
    lists = {name: questions_from_list(full[name], field=name) for name in ("questions_before", "questions_after")}
    shared = sorted({q.id for q in lists["questions_before"]} & {q.id for q in lists["questions_after"]})
    if shared:
        raise SpecError(f"A question id may be used once per study; before and after both have: {', '.join(shared)}.")
    return lists
