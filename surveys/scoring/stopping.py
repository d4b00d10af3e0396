"""The stopping rule (docs/method.md §3, "Stopping rule"): from a study's scores, its target CI width
and its cap, whether it is done recruiting, why, and how many usable participants it wants in all.
Pure: no Django, no queries."""

from collections.abc import Sequence
from dataclasses import dataclass

from surveys.scoring.report import ConditionScore

# A condition's interval is judged only once this many usable participants took part in it: with
# fewer, a bootstrap over participants is itself too unsteady to stop on (or to split into parts).
MIN_PARTICIPANTS_TO_STOP = 10


@dataclass(frozen=True)
class StoppingVerdict:
    done: bool
    reason: str  # in the researcher's words: what was measured against what
    wanted: int | None  # usable participants (completed, not excluded) wanted in all; None: no bound yet
    target_met: bool = False  # done because every interval is as narrow as the target asks


def _width(score: ConditionScore) -> float:
    return score.ci_high - score.ci_low


def _widest(scores: Sequence[ConditionScore]) -> str:
    widest = max(scores, key=_width)
    return f"widest {_width(widest):.3f}, {widest.label}"


def _cap_only(*, usable: int, places: int | None) -> StoppingVerdict:
    if places is None:
        return StoppingVerdict(False, "no target CI width and no cap: recruiting until the researcher closes "
                                      "the study", None)
    if usable >= places:
        return StoppingVerdict(True, f"the cap is reached: {usable} usable participants of {places}", places)
    return StoppingVerdict(False, f"recruiting up to the cap: {usable} of {places} usable participants", places)


def _judged(scores: Sequence[ConditionScore], *, usable: int, target: float) -> StoppingVerdict | None:
    """Done by the target (met, or out of reach), when every condition has enough participants."""
    wide = [s for s in scores if _width(s) > target]
    if not wide:
        return StoppingVerdict(True, f"every condition's 95% CI is no wider than the target {target:.3f} "
                                     f"({_widest(scores)}) with {usable} usable participants", usable,
                                target_met=True)
    # Judged on the item part's lower bound, so noise in a few items' estimates stops no study early.
    stuck = [s for s in wide if s.item_part_low is not None and s.item_part_low >= target]
    if stuck:
        first = stuck[0]
        return StoppingVerdict(True, f"the target CI width {target:.3f} cannot be reached by more participants: "
                                     f"in {first.label} the items alone make the interval about "
                                     f"{first.item_part_width:.3f} wide (at least {first.item_part_low:.3f}; its CI "
                                     f"is {_width(first):.3f}); more IRIs per condition would narrow it", usable)
    return None


def _recruiting(scores: Sequence[ConditionScore], *, usable: int, target: float) -> StoppingVerdict:
    short = [s for s in scores if s.participants < MIN_PARTICIPANTS_TO_STOP or s.ci_low is None]
    if short:
        fewest = min(short, key=lambda s: s.participants)
        return StoppingVerdict(False, f"recruiting: each condition needs {MIN_PARTICIPANTS_TO_STOP} usable "
                                      f"participants before its CI is judged against the target {target:.3f} "
                                      f"({fewest.label} has {fewest.participants})",
                               usable + MIN_PARTICIPANTS_TO_STOP - fewest.participants)
    wide = [s for s in scores if _width(s) > target]
    doubtful = [s for s in wide if s.more_participants_needed is None]  # the items may keep it wide
    if doubtful:
        first = doubtful[0]
        return StoppingVerdict(False, f"recruiting: in {first.label} the items alone may keep the 95% CI wider "
                                      f"than the target {target:.3f} (item part about {first.item_part_width:.3f}, "
                                      f"CI {_width(first):.3f}); more participants will tell",
                               usable + MIN_PARTICIPANTS_TO_STOP)
    # At least one more: a projection rounded to none must not leave a wide interval waiting forever.
    more = max(max(1, s.more_participants_needed) for s in wide)
    return StoppingVerdict(False, f"recruiting: {len(wide)} of {len(scores)} conditions' 95% CIs are wider than "
                                  f"the target {target:.3f} ({_widest(wide)}); about {more} more usable "
                                  "participants should narrow them enough", usable + more)


def stopping_verdict(*, scores: Sequence[ConditionScore], usable: int, places: int | None,
                     target: float | None) -> StoppingVerdict:
    """Whether the study is done, whichever comes first: every condition's CI at most ``target`` wide,
    a target out of reach of more participants (the item part alone is as wide), or ``places`` usable
    participants (the design's cap; None: no cap). ``scores``: per condition, exclusions applied."""
    if target is None or not scores:
        return _cap_only(usable=usable, places=places)
    enough = all(s.participants >= MIN_PARTICIPANTS_TO_STOP and s.ci_low is not None for s in scores)
    verdict = _judged(scores, usable=usable, target=target) if enough else None
    if verdict is not None:
        return verdict
    if places is not None and usable >= places:
        return StoppingVerdict(True, f"the cap is reached: {usable} usable participants of {places}, before "
                                     f"every condition's 95% CI was narrower than the target {target:.3f}", places)
    verdict = _recruiting(scores, usable=usable, target=target)
    return verdict if places is None else StoppingVerdict(False, verdict.reason, min(verdict.wanted, places))
