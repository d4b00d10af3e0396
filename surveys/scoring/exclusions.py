"""Exclusion rules applied to a ResponseTable (docs/method.md §2, quality control). Pure numpy.

Each rule yields a reason string for the participants it catches; a participant with any reason is
excluded. Rules left empty catch nobody.
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from surveys.scoring.data import CATCH, MAIN, QUALIFICATION, ResponseTable
from surveys.scoring.stats import participant_means


@dataclass(frozen=True)
class Rules:
    catch_min_accuracy: float | None = None
    min_median_rt_ms: float | None = None
    max_one_sided_share: float | None = None
    qualification_min_correct: int | None = None
    max_focus_lost_share: float | None = None


def _reasons(ids: np.ndarray, values: np.ndarray, caught: np.ndarray, say: Callable[[float], str]) -> dict[int, str]:
    """participant id -> reason (``say`` of their value) for each participant ``caught`` marks."""
    return {int(p): say(v) for p, v in zip(ids[caught], values[caught], strict=True)}


def catch_reasons(table: ResponseTable, threshold: float) -> dict[int, str]:
    keep = table.kind == CATCH
    ids, accuracy = participant_means(table.participant[keep], np.nan_to_num(table.correct[keep], nan=0.0))
    return _reasons(ids, accuracy, accuracy < threshold, lambda a: f"catch accuracy {a:.2f} < {threshold:.2f}")


def median_rt_reasons(table: ResponseTable, bound_ms: float) -> dict[int, str]:
    keep = table.kind == MAIN
    if not keep.any():
        return {}
    ids, codes = np.unique(table.participant[keep], return_inverse=True)
    rt = table.rt_ms[keep]
    # One sort by (participant, response time): the code dominates, times are below the step.
    step = float(np.nanmax(rt, initial=0.0)) + 1.0
    sorted_rt = rt[np.argsort(codes * step + rt, kind="stable")]
    counts = np.bincount(codes, minlength=len(ids))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    medians = (sorted_rt[starts + (counts - 1) // 2] + sorted_rt[starts + counts // 2]) / 2
    return _reasons(ids, medians, medians < bound_ms,
                    lambda m: f"median response time {m:.0f} ms < {bound_ms:.0f} ms")


def one_sided_reasons(table: ResponseTable, max_share: float) -> dict[int, str]:
    """The most frequent answer (option index, or rating for similarity) takes more than max_share."""
    keep = table.kind == MAIN
    if not keep.any():
        return {}
    answer = np.where(np.isnan(table.choice[keep]), 1000 + np.nan_to_num(table.rating[keep], nan=-1),
                      table.choice[keep])
    ids, codes = np.unique(table.participant[keep], return_inverse=True)
    values, answer_codes = np.unique(answer, return_inverse=True)
    cells = np.bincount(codes * len(values) + answer_codes, minlength=len(ids) * len(values))
    shares = cells.reshape(len(ids), len(values)).max(axis=1, initial=0) / np.bincount(codes, minlength=len(ids))
    return _reasons(ids, shares, shares > max_share,
                    lambda s: f"one-sided responding: {s:.0%} of answers identical > {max_share:.0%}")


def qualification_reasons(table: ResponseTable, min_correct: int) -> dict[int, str]:
    """Participants whose gate trials were right fewer than min_correct times (no gate trials: failed)."""
    keep = table.kind == QUALIFICATION
    everyone = np.unique(table.participant)
    index = np.searchsorted(everyone, table.participant[keep])
    right = np.bincount(index, weights=np.nan_to_num(table.correct[keep]), minlength=len(everyone))
    asked = np.bincount(index, minlength=len(everyone))
    caught = right < min_correct
    return {int(p): f"failed the qualification gate ({r:.0f} of {a} right < {min_correct})"
            for p, r, a in zip(everyone[caught], right[caught], asked[caught], strict=True)}


def focus_lost_reasons(table: ResponseTable, max_share: float) -> dict[int, str]:
    """Main trials during which the participant left the page, window or full screen: more than max_share."""
    keep = table.kind == MAIN
    if table.focus_lost is None or not keep.any():
        return {}
    ids, shares = participant_means(table.participant[keep], table.focus_lost[keep].astype(float))
    return _reasons(ids, shares, shares > max_share,
                    lambda s: f"left the study during {s:.0%} of trials > {max_share:.0%}")


def exclusion_reasons(table: ResponseTable, rules: Rules) -> dict[int, str]:
    """participant id -> '; '-joined reasons, for every participant at least one rule catches."""
    found: dict[int, list[str]] = {}
    checks = [(rules.catch_min_accuracy, catch_reasons), (rules.min_median_rt_ms, median_rt_reasons),
              (rules.max_one_sided_share, one_sided_reasons), (rules.qualification_min_correct,
                                                               qualification_reasons),
              (rules.max_focus_lost_share, focus_lost_reasons)]
    for threshold, check in checks:
        if threshold is None:
            continue
        for participant, reason in check(table, threshold).items():
            found.setdefault(participant, []).append(reason)
    return {participant: "; ".join(reasons) for participant, reasons in found.items()}
