"""Simulated studies with known parameters, to check that each estimator recovers them
(docs/method.md §3). Numpy only; used by the tests and by `python -m bench analyses`.
"""

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from surveys.scoring.data import MAIN, ResponseTable

RATING_NOISE_SD = 0.8  # residual sd of a simulated rating, in rating points


@dataclass(frozen=True)
class Truth:
    """Condition effects (log-odds, or mean ratings when rated) and random-intercept sds."""

    effects: tuple[float, ...]
    participant_sd: float
    item_sd: float
    participants: int
    items: int  # per condition; each item belongs to one condition, as a study's IRIs do
    rated: bool = False


def simulate_responses(truth: Truth, *, seed: int) -> ResponseTable:
    """Every participant answers every item once. Binary: correct ~ Bernoulli(expit(effect + u_p + v_i));
    rated: rating = effect + u_p + v_i + noise (not rounded, so the linear model is exactly right)."""
    rng = np.random.default_rng(seed)
    conditions = len(truth.effects)
    u = rng.normal(0, truth.participant_sd, truth.participants)
    v = rng.normal(0, truth.item_sd, (conditions, truth.items))
    p, c, i = (a.ravel() for a in np.meshgrid(np.arange(truth.participants), np.arange(conditions),
                                              np.arange(truth.items), indexing="ij"))
    eta = np.asarray(truth.effects)[c] + u[p] + v[c, i]
    n = len(p)
    if truth.rated:
        rating, correct = eta + rng.normal(0, RATING_NOISE_SD, n), np.full(n, np.nan)
    else:
        rating, correct = np.full(n, np.nan), (rng.random(n) < expit(eta)).astype(float)
    return ResponseTable(participant=p + 1, kind=np.full(n, MAIN), condition=c + 1, item=(c + 1) * 10_000 + i,
                         correct=correct, choice=np.where(correct == 1, 0.0, 1.0), rating=rating,
                         rt_ms=np.exp(rng.normal(6.5, 0.3, n)))
