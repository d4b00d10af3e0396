"""The analyses reviewers in this field expect beside the scores (docs/method.md §3): a mixed-effects
model with participants and items as random intercepts, d′ for 2AFC, and response-time summaries.

Numpy, pandas and statsmodels on a ResponseTable of scored main trials; no Django, no queries.
"""

import math
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from scipy.special import expit, ndtri
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
from statsmodels.regression.mixed_linear_model import MixedLM

from surveys.scoring.data import ResponseTable
from surveys.scoring.report import ConditionScore, condition_slices, main_rows, response_scores
from surveys.scoring.stats import Z_95, mean_sem
from surveys.studies.paradigms import PARADIGMS

# Above this many responses the model is not fitted in the web process (its fit grows with the number
# of participants and items; the responses export holds everything needed to fit it offline).
MIXED_MAX_ROWS = 30_000
RANDOM_EFFECTS = {"participant": "0 + C(participant)", "item": "0 + C(item)"}


@dataclass(frozen=True)
class MixedCondition:
    condition_id: int
    estimate: float  # log-odds (binary) or mean rating (rated), for a typical participant and item
    low: float
    high: float
    probability: float | None  # binary: the estimate on the probability scale
    probability_low: float | None
    probability_high: float | None


@dataclass(frozen=True)
class MixedContrast:
    a: int
    b: int
    difference: float  # a minus b: log-odds (binary) or rating points (rated)
    low: float
    high: float


@dataclass(frozen=True)
class MixedModel:
    method: str  # which estimator, or why none was fitted
    scale: str  # "log-odds" or "rating"
    fitted: bool
    participant_sd: float | None = None
    item_sd: float | None = None
    conditions: tuple[MixedCondition, ...] = ()
    contrasts: tuple[MixedContrast, ...] = ()


@dataclass(frozen=True)
class DPrime:
    condition_id: int
    d_prime: float | None  # from the condition's pooled proportion correct
    low: float | None  # the bootstrap CI of that proportion, converted
    high: float | None
    participant_mean: float | None  # each participant's d′, then mean and SEM across them
    participant_sem: float | None


@dataclass(frozen=True)
class ResponseTimes:
    condition_id: int
    trials: int
    median_ms: float | None
    q25_ms: float | None
    q75_ms: float | None
    participant_median_mean_ms: float | None  # each participant's median, then mean and SEM across them
    participant_median_sem_ms: float | None


@dataclass(frozen=True)
class Analyses:
    mixed: MixedModel
    d_prime: tuple[DPrime, ...]  # 2AFC only
    response_times: tuple[ResponseTimes, ...]


def d_prime_2afc(proportion: np.ndarray, trials: np.ndarray) -> np.ndarray:
    """d′ = √2 · Φ⁻¹(proportion correct) for 2AFC; 0 and 1 are moved to 1/(2N) and 1 - 1/(2N)."""
    trials = np.maximum(np.asarray(trials, dtype=float), 1.0)
    clipped = np.clip(np.asarray(proportion, dtype=float), 1 / (2 * trials), 1 - 1 / (2 * trials))
    return math.sqrt(2) * ndtri(clipped)


def condition_d_prime(score: ConditionScore, rows: ResponseTable) -> DPrime:
    """The condition's d′ with its interval, and the mean ± SEM of per-participant d′."""
    if score.alignment is None:
        return DPrime(score.condition_id, None, None, None, None, None)
    pooled = d_prime_2afc(np.array([score.alignment, score.ci_low, score.ci_high]), np.full(3, score.trials))
    ids, index = np.unique(rows.participant, return_inverse=True)
    counts = np.bincount(index, minlength=len(ids))
    shares = np.bincount(index, weights=rows.correct, minlength=len(ids)) / counts
    spread = mean_sem(d_prime_2afc(shares, counts))
    return DPrime(score.condition_id, float(pooled[0]), float(pooled[1]), float(pooled[2]), spread.mean, spread.sem)


def condition_response_times(condition_id: int, rows: ResponseTable) -> ResponseTimes:
    """Median and IQR of main-trial response times, and the mean ± SEM of each participant's median."""
    ok = np.isfinite(rows.rt_ms)
    rt, who = rows.rt_ms[ok], rows.participant[ok]
    if not len(rt):
        return ResponseTimes(condition_id, 0, None, None, None, None, None)
    q25, median, q75 = np.percentile(rt, [25, 50, 75])
    medians = np.array([np.median(rt[who == p]) for p in np.unique(who)])
    spread = mean_sem(medians)
    return ResponseTimes(condition_id, len(rt), float(median), float(q25), float(q75), spread.mean, spread.sem)


def _frame(rows: ResponseTable, *, paradigm: str) -> pd.DataFrame:
    return pd.DataFrame({"y": response_scores(rows, paradigm=paradigm).astype(float),
                         "condition": rows.condition, "participant": rows.participant, "item": rows.item})


def _contrasts(ids: list[int], means: np.ndarray, cov: np.ndarray) -> tuple[MixedContrast, ...]:
    result = []
    for i, j in combinations(range(len(ids)), 2):
        sd = math.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0))
        difference = float(means[i] - means[j])
        result.append(MixedContrast(ids[i], ids[j], difference, difference - Z_95 * sd, difference + Z_95 * sd))
    return tuple(result)


def _laplace_fixed_cov(model: BinomialBayesMixedGLM, fit) -> np.ndarray:
    """The fixed effects' covariance from the curvature of the joint posterior at the fit, with the
    variance components held at their estimates: the [fixed, fixed] block of the inverse of
    [X Z]' W [X Z] + diag(0, 1/sd²), W = p(1 - p). Mean-field VB's own sds leave out the fixed effects'
    correlation with the random intercepts (items sit inside conditions) and come out too narrow."""
    x, z = np.asarray(model.exog), model.exog_vc.toarray() if hasattr(model.exog_vc, "toarray") else model.exog_vc
    eta = x @ np.asarray(fit.fe_mean) + z @ np.asarray(fit.vc_mean)
    w = expit(eta) * (1 - expit(eta))
    precision = np.exp(-2 * np.asarray(fit.vcp_mean))[model.ident]
    zw = z.T * w
    schur = x.T @ (x * w[:, None]) - (zw @ x).T @ np.linalg.solve(zw @ z + np.diag(precision), zw @ x)
    return np.linalg.inv(schur)


def _binary_mixed(frame: pd.DataFrame, ids: list[int]) -> MixedModel:
    """Chose the target (or correct) ~ 0 + condition, random intercepts per participant and per item,
    fitted by statsmodels' variational Bayes; intervals: estimate ± 1.96 Laplace sd (_laplace_fixed_cov)."""
    model = BinomialBayesMixedGLM.from_formula("y ~ 0 + C(condition)", RANDOM_EFFECTS, frame)
    fit = model.fit_vb()
    means, cov = np.asarray(fit.fe_mean), _laplace_fixed_cov(model, fit)
    sds = np.sqrt(np.diag(cov))
    rows = tuple(MixedCondition(c, float(m), float(m - Z_95 * s), float(m + Z_95 * s), float(expit(m)),
                                float(expit(m - Z_95 * s)), float(expit(m + Z_95 * s)))
                 for c, m, s in zip(ids, means, sds, strict=True))
    sd_of = dict(zip(model.vcp_names, np.exp(np.asarray(fit.vcp_mean)).tolist(), strict=True))
    return MixedModel("BinomialBayesMixedGLM (variational Bayes)", "log-odds", True, sd_of["participant"],
                      sd_of["item"], rows, _contrasts(ids, means, cov))


def _rated_mixed(frame: pd.DataFrame, ids: list[int]) -> MixedModel:
    """Rating ~ 0 + condition, crossed random intercepts per participant and item (REML, Wald 95% CIs)."""
    model = MixedLM.from_formula("y ~ 0 + C(condition)", frame, groups=np.ones(len(frame)), re_formula="0",
                                 vc_formula=RANDOM_EFFECTS)
    fit = model.fit(reml=True)
    k = len(ids)
    means, cov = np.asarray(fit.fe_params), np.asarray(fit.cov_params())[:k, :k]
    sds = np.sqrt(np.diag(cov))
    rows = tuple(MixedCondition(c, float(m), float(m - Z_95 * s), float(m + Z_95 * s), None, None, None)
                 for c, m, s in zip(ids, means, sds, strict=True))
    variance = dict(zip(model.exog_vc.names, np.asarray(fit.vcomp).tolist(), strict=True))
    return MixedModel("MixedLM (REML)", "rating", True, math.sqrt(variance["participant"]),
                      math.sqrt(variance["item"]), rows, _contrasts(ids, means, cov))


def mixed_model(rows: ResponseTable, *, paradigm: str) -> MixedModel:
    """The condition effects of a mixed model with crossed random intercepts (docs/method.md §3)."""
    rated = PARADIGMS[paradigm].rated
    scale = "rating" if rated else "log-odds"
    if len(rows) > MIXED_MAX_ROWS:
        return MixedModel(f"not fitted: more than {MIXED_MAX_ROWS} responses", scale, False)
    ids = np.unique(rows.condition).tolist()
    if len(np.unique(rows.participant)) < 2 or len(np.unique(rows.item)) < 2:
        return MixedModel("not fitted: fewer than two participants or items", scale, False)
    if not rated and len(np.unique(rows.correct)) < 2:  # no variation: the log-odds are unbounded
        return MixedModel("not fitted: every answer is the same", scale, False)
    with warnings.catch_warnings():  # convergence notes go to the report's numbers, not the log
        warnings.simplefilter("ignore")
        return (_rated_mixed if rated else _binary_mixed)(_frame(rows, paradigm=paradigm), ids)


def study_analyses(rows: ResponseTable, scores: list[ConditionScore], *, paradigm: str) -> Analyses:
    """Mixed model, d′ (2AFC) and response times for the scored main trials of rows."""
    rows = main_rows(rows, paradigm=paradigm)
    parts = condition_slices(rows, [s.condition_id for s in scores])
    d_primes = (tuple(condition_d_prime(s, part) for s, part in zip(scores, parts, strict=True))
                if paradigm == "2afc" else ())
    times = tuple(condition_response_times(s.condition_id, part) for s, part in zip(scores, parts, strict=True))
    return Analyses(mixed_model(rows, paradigm=paradigm), d_primes, times)
