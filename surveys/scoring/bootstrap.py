"""Bootstrap confidence intervals that resample participants, then items (docs/method.md §3).

A two-way bootstrap: each resample draws participants with replacement and items with
replacement, and the statistic is the share of correct trials in the crossed resample. Drawing
with replacement is the same as weighting by multinomial counts, so a resample's share is
(w_p' C w_i) / (w_p' N w_i) with C the participant x item matrix of correct counts and N of all
counts: thousands of resamples become two matrix products instead of a Python loop.
"""

from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 2000


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def crossed_table(participants: np.ndarray, items: np.ndarray,
                  values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(participant ids, item ids, C, N): summed values and counts per (participant, item).

    Inputs are equal-length 1-D arrays; `values` may be any number per response (1/0 for a share,
    a 1-7 rating for a mean rating). Rows of C and N follow the sorted participant ids, columns the items.
    """
    participant_ids, p_index = np.unique(participants, return_inverse=True)
    item_ids, i_index = np.unique(items, return_inverse=True)
    shape = (len(participant_ids), len(item_ids))
    cell = p_index * shape[1] + i_index
    totals = np.bincount(cell, minlength=shape[0] * shape[1]).astype(float).reshape(shape)
    hits = np.bincount(cell, weights=values.astype(float), minlength=shape[0] * shape[1]).reshape(shape)
    return participant_ids, item_ids, hits, totals


def crossed_counts(participants: np.ndarray, items: np.ndarray, correct: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(C, N) of crossed_table."""
    return crossed_table(participants, items, correct)[2:]


def resample_weights(n: int, resamples: int, *, rng: np.random.Generator) -> np.ndarray:
    """(resamples, n) counts of how often each unit is drawn, n draws with replacement per resample.

    Same law as rng.multinomial(n, [1/n]*n, resamples), drawn as indices and counted (much faster).
    """
    draws = rng.integers(0, n, size=(resamples, n)) + (np.arange(resamples) * n)[:, None]
    return np.bincount(draws.ravel(), minlength=resamples * n).reshape(resamples, n).astype(np.float32)


def share_interval(hits: np.ndarray, totals: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES,
                   level: float = 0.95, rng: np.random.Generator,
                   participant_weights: np.ndarray | None = None) -> Interval:
    """The share hits.sum() / totals.sum() with a percentile interval over crossed resamples.

    Resamples participants (rows) and items (columns) with replacement, independently, as
    docs/method.md §3 asks for 2AFC alignment; also used for accuracy and mean ratings.
    participant_weights, (resamples, rows): draws shared with other conditions of the same study
    (a participant drawn twice counts twice in every condition they took part in).
    """
    n_participants, n_items = totals.shape
    estimate = hits.sum() / totals.sum()
    if participant_weights is None:
        participant_weights = resample_weights(n_participants, resamples, rng=rng)
    item_weights = resample_weights(n_items, participant_weights.shape[0], rng=rng)
    # float32 is exact here (counts far below 2**24) and halves the cost of the one big product.
    both = np.asarray(participant_weights, dtype=np.float32) @ np.hstack([hits, totals]).astype(np.float32)
    numerators = (both[:, :n_items] * item_weights).sum(axis=1)
    denominators = (both[:, n_items:] * item_weights).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = numerators / denominators
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(shares, [tail, 100 - tail])
    return Interval(float(estimate), float(low), float(high))


def bootstrap_sem(values: np.ndarray, *, resamples: int = DEFAULT_RESAMPLES, rng: np.random.Generator) -> float:
    """The standard error of the mean of ``values``, as the spread of the means of resamples drawn
    with replacement (model-to-model recognition, docs/method.md §3)."""
    means = resample_weights(len(values), resamples, rng=rng) @ np.asarray(values, dtype=np.float32) / len(values)
    return float(means.std(ddof=1))
