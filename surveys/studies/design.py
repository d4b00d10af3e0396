"""A study's design options (Study.design): their defaults per paradigm, checked once at the edge.

Keys (science.md section 2):
- k: options per matching trial (default 3) or categories per classification trial (default: all);
- fixation_ms, stimulus_ms, mask_ms: classification's timed presentation (Feather: 300/300/300);
- practice: practice trials with feedback before the main block; practice_trials: how many;
- gate: {"trials": n, "pass": m}, a qualification block that ends the session below m right (Feather 7 of 12);
- catch_every: one catch trial (query identical to one option) per this many main trials; 0 = none;
- participants_per_condition: target number of participants; the study stops admitting when full;
- once_per_target: each participant sees each target once, in one condition (Latin-square rows);
- foils: 2AFC's second option, "seed" (Nanda) or "other_target" (another target of the same set);
- fullscreen: ask for fullscreen before the trials; min_width, min_height: the window-size check.
"""

from django.core.exceptions import ValidationError

from surveys.studies.models import Paradigm

COMMON_DEFAULTS = {
    "practice": False,
    "practice_trials": 3,
    "gate": None,
    "catch_every": 0,
    "participants_per_condition": None,
    "once_per_target": False,
    "fullscreen": False,
    "min_width": 320,
    "min_height": 480,
}
PARADIGM_DEFAULTS = {
    Paradigm.TWO_AFC: {"foils": "seed"},
    Paradigm.SIMILARITY: {},
    Paradigm.MATCHING: {"k": 3},
    Paradigm.CLASSIFICATION: {"k": None, "fixation_ms": 300, "stimulus_ms": 300, "mask_ms": 300},
}
FOILS = ("seed", "other_target")
RATING_MIN, RATING_MAX = 1, 7


def design_normalise(*, paradigm: str, design: dict | None) -> dict:
    """The full design: defaults filled in, unknown keys and bad values refused."""
    if paradigm not in PARADIGM_DEFAULTS:
        raise ValidationError(f"Unknown paradigm {paradigm!r}.")
    allowed = {**COMMON_DEFAULTS, **PARADIGM_DEFAULTS[paradigm]}
    given = dict(design or {})
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise ValidationError(f"Unknown design options for {paradigm}: {', '.join(unknown)}.")
    full = {**allowed, **given}
    _check_counts(full)
    _check_gate(full)
    if "foils" in full and full["foils"] not in FOILS:
        raise ValidationError(f"foils must be one of {', '.join(FOILS)}.")
    for key in ("practice", "once_per_target", "fullscreen"):
        if not isinstance(full[key], bool):
            raise ValidationError(f"{key} must be true or false.")
    return full


def _whole(value, *, name: str, low: int, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValidationError(f"{name} must be a whole number of at least {low}.")


def _check_counts(full: dict) -> None:
    _whole(full["practice_trials"], name="practice_trials", low=1)
    _whole(full["catch_every"], name="catch_every", low=0)
    _whole(full["participants_per_condition"], name="participants_per_condition", low=1, allow_none=True)
    _whole(full["min_width"], name="min_width", low=0)
    _whole(full["min_height"], name="min_height", low=0)
    if "k" in full:
        _whole(full["k"], name="k", low=2, allow_none=True)
    for key in ("fixation_ms", "stimulus_ms", "mask_ms"):
        if key in full:
            _whole(full[key], name=key, low=0 if key != "stimulus_ms" else 1)


def _check_gate(full: dict) -> None:
    gate = full["gate"]
    if gate is None:
        return
    if not isinstance(gate, dict) or set(gate) != {"trials", "pass"}:
        raise ValidationError('gate must be {"trials": n, "pass": m} or null.')
    _whole(gate["trials"], name="gate trials", low=1)
    _whole(gate["pass"], name="gate pass", low=0)
    if gate["pass"] > gate["trials"]:
        raise ValidationError("The gate cannot ask for more right answers than it has trials.")
