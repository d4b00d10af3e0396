"""Scores per condition from a ResponseTable (docs/method.md §3). Numpy, no queries.

The score of a response is `correct` (2AFC: chose the target; matching and classification: the
right answer) or, in a rated paradigm (similarity), the 1-7 rating. Only main trials are scored.
"""

from dataclasses import asdict, dataclass, field
from itertools import combinations

import numpy as np

from surveys.scoring.bootstrap import (
    DEFAULT_RESAMPLES,
    crossed_counts,
    crossed_table,
    resample_weights,
    share_interval,
)
from surveys.scoring.data import MAIN, ResponseTable
from surveys.scoring.stats import (
    Reliability,
    compare_conditions_p,
    item_part,
    mean_sem,
    participant_means,
    participants_needed,
    sign_flip_p,
    split_half_reliability,
)
from surveys.studies.paradigms import PARADIGMS


@dataclass(frozen=True)
class ConditionScore:
    """One condition's score with everything reported beside it (docs/method.md §3)."""

    condition_id: int
    label: str
    participants: int
    items: int
    trials: int
    alignment: float | None  # the condition's score: share choosing the target, accuracy or mean rating
    ci_low: float | None
    ci_high: float | None
    item_majority: float | None  # share of items a majority of participants got right (chose the target)
    chance: float | None = 0.5
    participant_mean: float | None = None
    participant_sem: float | None = None
    p_vs_chance: float | None = None
    more_participants_needed: int | None = None
    item_part_width: float | None = None  # the part of the CI's width more participants cannot narrow
    item_part_low: float | None = None  # its one-sided 95% lower bound: the stopping rule's evidence
    job_id: int | None = None
    layer: str = ""
    item_scores: dict[int, float] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict:
        """As the API and the report's JSON give it: the condition's score under ``score`` (what it is,
        per paradigm, is the study's ``score_name`` and ``measure``)."""
        data = asdict(self)
        data.pop("item_scores")
        data["score"] = data.pop("alignment")
        return data


@dataclass(frozen=True)
class ConditionMeta:
    """What a score needs to know about a condition besides its responses."""

    condition_id: int
    label: str
    job_id: int | None = None
    layer: str = ""


@dataclass(frozen=True)
class Comparison:
    a: int
    b: int
    difference: float | None  # score of a minus score of b
    p_value: float | None
    method: str
    a_label: str = ""
    b_label: str = ""


def response_scores(table: ResponseTable, *, paradigm: str) -> np.ndarray:
    return table.rating if PARADIGMS[paradigm].rated else table.correct


def main_rows(table: ResponseTable, *, paradigm: str) -> ResponseTable:
    """Main trials with a score (a skipped rating or a missing answer is not a trial), sorted by condition."""
    keep = (table.kind == MAIN) & np.isfinite(response_scores(table, paradigm=paradigm))
    rows = table if keep.all() else table.where(keep)
    if len(rows) and np.any(np.diff(rows.condition) < 0):
        rows = rows.where(np.argsort(rows.condition, kind="stable"))
    return rows


def condition_slices(rows: ResponseTable, condition_ids: list[int]) -> list[ResponseTable]:
    """Each condition's rows of a condition-sorted table (views, no copies)."""
    bounds = np.searchsorted(rows.condition, [[c, c + 1] for c in condition_ids]).reshape(-1, 2)
    return [rows.where(slice(start, stop)) for start, stop in bounds]


def condition_score(meta: ConditionMeta, rows: ResponseTable, *, paradigm: str, chance: float | None,
                    target_width: float | None, weights: tuple[np.ndarray, np.ndarray],
                    rng: np.random.Generator) -> ConditionScore:
    """One condition's score with its crossed bootstrap CI, per-item majority and per-participant SEM.

    weights: (participant ids of the study, their resampling weights), shared by all conditions.
    """
    base = {"condition_id": meta.condition_id, "label": meta.label, "chance": chance, "job_id": meta.job_id,
            "layer": meta.layer}
    if not len(rows):
        return ConditionScore(participants=0, items=0, trials=0, alignment=None, ci_low=None, ci_high=None,
                              item_majority=None, **base)
    ids, item_ids, hits, totals = crossed_table(rows.participant, rows.item, response_scores(rows, paradigm=paradigm))
    means = hits.sum(axis=1) / totals.sum(axis=1)
    everyone, drawn = weights
    own = drawn if len(ids) == len(everyone) else drawn[:, np.searchsorted(everyone, ids)]
    interval = share_interval(hits, totals, rng=rng, participant_weights=own)
    item_shares = hits.sum(axis=0) / totals.sum(axis=0)
    spread = mean_sem(means)
    items_alone = item_part(rows.participant, rows.item, response_scores(rows, paradigm=paradigm))
    return ConditionScore(
        participants=len(ids), items=int(totals.shape[1]), trials=len(rows),
        alignment=interval.estimate, ci_low=interval.low, ci_high=interval.high,
        item_majority=None if PARADIGMS[paradigm].rated else float((item_shares > 0.5).mean()),
        participant_mean=spread.mean, participant_sem=spread.sem,
        p_vs_chance=None if chance is None else sign_flip_p(means - chance, rng=rng),
        more_participants_needed=participants_needed(participants=len(ids), width=interval.high - interval.low,
                                                     target_width=target_width,
                                                     item_width=items_alone.width if items_alone else None),
        item_part_width=items_alone.width if items_alone else None,
        item_part_low=items_alone.low if items_alone else None,
        item_scores=dict(zip(item_ids.tolist(), item_shares.tolist(), strict=True)), **base)


def condition_scores(table: ResponseTable, conditions: list[ConditionMeta], *, paradigm: str,
                     chance: float | None, target_width: float | None = None,
                     resamples: int = DEFAULT_RESAMPLES, seed: int) -> list[ConditionScore]:
    rows = main_rows(table, paradigm=paradigm)
    rng = np.random.default_rng(seed)
    everyone = np.unique(rows.participant)
    weights = (everyone, resample_weights(len(everyone), resamples, rng=rng))
    return [condition_score(meta, part, paradigm=paradigm, chance=chance, target_width=target_width,
                            weights=weights, rng=rng)
            for meta, part in zip(conditions, condition_slices(rows, [m.condition_id for m in conditions]),
                                  strict=True)]


def comparisons(table: ResponseTable, scores: list[ConditionScore], *, paradigm: str, seed: int) -> list[Comparison]:
    """Every pair of conditions: difference of scores and a permutation p over participants."""
    rows = main_rows(table, paradigm=paradigm)
    rng = np.random.default_rng(seed)
    means = {score.condition_id: participant_means(part.participant, response_scores(part, paradigm=paradigm))
             for score, part in zip(scores, condition_slices(rows, [s.condition_id for s in scores]), strict=True)}
    result = []
    for a, b in combinations([s for s in scores if s.trials], 2):
        p_value, method = compare_conditions_p(*means[a.condition_id], *means[b.condition_id], rng=rng)
        result.append(Comparison(a.condition_id, b.condition_id, a.alignment - b.alignment, p_value, method,
                                 a.label, b.label))
    return result


def reliability(table: ResponseTable, *, paradigm: str, seed: int) -> Reliability:
    """Split-half reliability of item scores over all the table's main items."""
    rows = main_rows(table, paradigm=paradigm)
    if not len(rows):
        return Reliability(None, None, None, 0)
    sums, counts = crossed_counts(rows.participant, rows.item, response_scores(rows, paradigm=paradigm))
    return split_half_reliability(sums, counts, rng=np.random.default_rng(seed))


def condition_reliabilities(table: ResponseTable, condition_ids: list[int], *, paradigm: str,
                            seed: int) -> dict[int, Reliability]:
    rows = main_rows(table, paradigm=paradigm)
    return {c: reliability(part, paradigm=paradigm, seed=seed)
            for c, part in zip(condition_ids, condition_slices(rows, condition_ids), strict=True)}
