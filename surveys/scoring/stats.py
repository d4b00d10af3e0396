"""Pure numpy statistics behind the scores (docs/method.md §3). No Django here.

Every function takes 1-D arrays of equal length (one entry per response) or small matrices, and a
numpy Generator where randomness is involved, so a reported number can be reproduced exactly.
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy.stats import chi2

Z_95 = 1.959964  # the normal quantile of a two-sided 95% interval
# Monte Carlo sizes: enough for a p-value to two decimals and a stable split-half average.
PERMUTATIONS = 2_000
SPLITS = 200
# Permutations are drawn in blocks of this many, so memory stays small with thousands of participants.
PERMUTATION_BLOCK = 250
# Below this many participants a sign-flip test enumerates every flip exactly (2**12 = 4096).
EXACT_FLIP_MAX = 12
# Above this many participants the permutation distribution of a mean is normal to within Monte Carlo
# error, so its exact mean and variance give the p-value (thousands of participants cost nothing).
NORMAL_ABOVE = 1000


@dataclass(frozen=True)
class MeanSem:
    mean: float | None
    sem: float | None
    n: int


@dataclass(frozen=True)
class Reliability:
    split_half_r: float | None
    spearman_brown: float | None
    noise_ceiling: float | None
    items: int


def participant_means(participants: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, mean value per participant): Feather's per-participant accuracy (docs/method.md §3)."""
    ids, index = np.unique(participants, return_inverse=True)
    sums = np.bincount(index, weights=values.astype(float), minlength=len(ids))
    counts = np.bincount(index, minlength=len(ids))
    return ids, sums / counts


def mean_sem(values: np.ndarray) -> MeanSem:
    """Mean and standard error of the mean (sample sd / sqrt(n)) across participants."""
    n = len(values)
    if n == 0:
        return MeanSem(None, None, 0)
    sem = float(np.std(values, ddof=1) / math.sqrt(n)) if n > 1 else None
    return MeanSem(float(np.mean(values)), sem, n)


def _normal_two_sided(observed: float, sd: float) -> float:
    if sd == 0:
        return 1.0 if observed == 0 else 0.0
    return math.erfc(observed / sd / math.sqrt(2))


def _exact_flips(n: int) -> np.ndarray:
    codes = np.arange(2 ** n)[:, None] >> np.arange(n)[None, :] & 1
    return 1.0 - 2.0 * codes


def _random_signs(rows: int, n: int, *, rng: np.random.Generator) -> np.ndarray:
    """(rows, n) of +1/-1, fair and independent: one random bit each (cheap for thousands of participants)."""
    bits = np.unpackbits(np.frombuffer(rng.bytes(rows * ((n + 7) // 8)), dtype=np.uint8).reshape(rows, -1),
                         axis=1, count=n)
    return 1.0 - 2.0 * bits


def _random_flip_means(differences: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    means = []
    for start in range(0, PERMUTATIONS, PERMUTATION_BLOCK):
        signs = _random_signs(min(PERMUTATION_BLOCK, PERMUTATIONS - start), len(differences), rng=rng)
        means.append(signs @ differences / len(differences))
    return np.concatenate(means)


def sign_flip_p(differences: np.ndarray, *, rng: np.random.Generator) -> float | None:
    """Two-sided p-value that the mean of per-participant differences is 0 (a permutation test).

    Under the null each participant's difference is as likely positive as negative, so flipping
    signs gives the null distribution of the mean; exact up to EXACT_FLIP_MAX participants.
    """
    n = len(differences)
    if n == 0:
        return None
    observed = abs(differences.mean())
    if n <= EXACT_FLIP_MAX:
        flipped = np.abs(_exact_flips(n) @ differences / n)
        return float(np.count_nonzero(flipped >= observed - 1e-12) / len(flipped))
    if n > NORMAL_ABOVE:  # the flipped mean has mean 0 and variance sum(d^2) / n^2
        return _normal_two_sided(observed, math.sqrt(float(differences @ differences)) / n)
    flipped = np.abs(_random_flip_means(differences, rng=rng))
    return float((np.count_nonzero(flipped >= observed - 1e-12) + 1) / (len(flipped) + 1))


def label_shuffle_p(a: np.ndarray, b: np.ndarray, *, rng: np.random.Generator) -> float | None:
    """Two-sided permutation p-value for mean(a) - mean(b), shuffling which group a participant is in."""
    if len(a) == 0 or len(b) == 0:
        return None
    pooled = np.concatenate([a, b])
    observed = abs(a.mean() - b.mean())
    if len(pooled) > NORMAL_ABOVE:  # permutation variance of a difference of group means
        spread = pooled.var() * len(pooled) / (len(pooled) - 1) * (1 / len(a) + 1 / len(b))
        return _normal_two_sided(observed, math.sqrt(spread))
    extreme = 0
    for start in range(0, PERMUTATIONS, PERMUTATION_BLOCK):
        block = min(PERMUTATION_BLOCK, PERMUTATIONS - start)
        shuffled = rng.permuted(np.broadcast_to(pooled, (block, len(pooled))), axis=1)
        diffs = np.abs(shuffled[:, : len(a)].mean(axis=1) - shuffled[:, len(a):].mean(axis=1))
        extreme += np.count_nonzero(diffs >= observed - 1e-12)
    return float((extreme + 1) / (PERMUTATIONS + 1))


def compare_conditions_p(ids_a: np.ndarray, means_a: np.ndarray, ids_b: np.ndarray, means_b: np.ndarray,
                         *, rng: np.random.Generator) -> tuple[float | None, str]:
    """Permutation test between two conditions over participants: (p, "paired" | "unpaired").

    Participants who took part in both conditions are compared within themselves (sign flips of
    their differences); with fewer than two shared participants the groups are shuffled instead.
    """
    shared, in_a, in_b = np.intersect1d(ids_a, ids_b, return_indices=True)
    if len(shared) >= 2:
        return sign_flip_p(means_a[in_a] - means_b[in_b], rng=rng), "paired"
    return label_shuffle_p(means_a, means_b, rng=rng), "unpaired"


def _rowwise_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r per row of two (S, I) matrices, ignoring NaN entries of either."""
    ok = np.isfinite(x) & np.isfinite(y)
    n = ok.sum(axis=1)
    x0, y0 = np.where(ok, x, 0.0), np.where(ok, y, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = x0.sum(axis=1) / n, y0.sum(axis=1) / n
        dx, dy = np.where(ok, x0 - mx[:, None], 0.0), np.where(ok, y0 - my[:, None], 0.0)
        r = (dx * dy).sum(axis=1) / np.sqrt((dx ** 2).sum(axis=1) * (dy ** 2).sum(axis=1))
    return np.where(n >= 3, r, np.nan)


def split_half_reliability(sums: np.ndarray, counts: np.ndarray, *, rng: np.random.Generator,
                           splits: int = SPLITS) -> Reliability:
    """Split-half reliability of item scores across participants, Spearman-Brown corrected.

    sums, counts: (participants, items). Each split puts a random half of participants on each
    side; r is the mean over splits of the correlation of item means between halves; the full-sample
    reliability is 2r / (1 + r), and its square root is the noise ceiling: the highest correlation
    any model's item-level predictions could reach with these human item scores.
    """
    n_participants, n_items = counts.shape
    if n_participants < 2 or n_items < 3:
        return Reliability(None, None, None, n_items)
    half = np.arange(n_participants) < n_participants // 2
    mask = rng.permuted(np.broadcast_to(half, (splits, n_participants)), axis=1).astype(float)
    a_sum, a_n = mask @ sums, mask @ counts
    b_sum, b_n = sums.sum(axis=0) - a_sum, counts.sum(axis=0) - a_n
    with np.errstate(invalid="ignore", divide="ignore"):
        r = _rowwise_pearson(a_sum / a_n, b_sum / b_n)
    if not np.isfinite(r).any():
        return Reliability(None, None, None, n_items)
    mean_r = float(np.nanmean(r))
    # Negative split-half agreement means no reliable item differences: reliability 0, no ceiling.
    corrected = 2 * mean_r / (1 + mean_r) if mean_r > 0 else 0.0
    ceiling = math.sqrt(corrected) if corrected > 0 else None
    return Reliability(mean_r, corrected, ceiling, n_items)


# Rounds of the additive fit in item_part: alternating means converge geometrically, and twenty
# rounds leave changes far below the responses' own noise even in a Latin square.
BACKFIT_ROUNDS = 20


@dataclass(frozen=True)
class ItemPart:
    """The part of a condition's 95% CI width that more participants cannot narrow, with a one-sided
    95% lower bound on it (docs/method.md §3, "Stopping rule")."""

    width: float
    low: float


def item_part(participants: np.ndarray, items: np.ndarray, values: np.ndarray) -> ItemPart | None:
    """The item part of a condition's CI; None with fewer than two participants or items.

    Fits value = mean + participant effect + item effect by alternating means (participants may see
    different items, as in a Latin square). The item effects' variance V, less what their own sampling
    noise explains (E: residual variance / responses to the item), estimates the items' spread; its
    lower bound takes V's one-sided 95% chi-square bound (n_items - 1 degrees of freedom) instead of V.
    A width is 2 * 1.96 sd of the trial-weighted mean of the item effects. Inputs: equal-length 1-D
    arrays, one entry a response.
    """
    participant_ids, p = np.unique(participants, return_inverse=True)
    item_ids, i = np.unique(items, return_inverse=True)
    freedom = len(values) - len(participant_ids) - len(item_ids) + 1
    if len(participant_ids) < 2 or len(item_ids) < 2 or freedom <= 0:
        return None
    y = values.astype(float)
    per_participant, per_item = np.bincount(p), np.bincount(i)
    mean, b = y.mean(), np.zeros(len(item_ids))
    for _ in range(BACKFIT_ROUNDS):
        a = np.bincount(p, weights=y - mean - b[i]) / per_participant
        b = np.bincount(i, weights=y - mean - a[p]) / per_item
    residual = y - mean - a[p] - b[i]
    noise = float(np.mean(float(residual @ residual) / freedom / per_item))
    spread = float(np.var(b, ddof=1))
    spread_low = spread * (len(item_ids) - 1) / chi2.ppf(0.95, len(item_ids) - 1)
    weights = per_item / len(y)
    scale = 2 * Z_95 * math.sqrt(float(weights @ weights))
    return ItemPart(scale * math.sqrt(max(0.0, spread - noise)), scale * math.sqrt(max(0.0, spread_low - noise)))


def participants_needed(*, participants: int, width: float | None, target_width: float | None,
                        item_width: float | None = None) -> int | None:
    """How many more participants bring a CI under target_width (docs/method.md §3, "Stopping rule").

    The part of the width that participants explain shrinks as 1/sqrt(n); the item part (item_width,
    ItemPart.width) does not: widths add as squares, so n' = n (w² - w_i²) / (T² - w_i²).
    None when it cannot be said, or when the item part alone is at least the target.
    """
    if target_width is None or width is None or participants < 2 or target_width <= 0:
        return None
    if width <= target_width:
        return 0
    item = item_width or 0.0
    if item >= target_width:
        return None
    needed = math.ceil(participants * (width ** 2 - item ** 2) / (target_width ** 2 - item ** 2))
    return max(0, needed - participants)


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation over the finite pairs; None when undefined."""
    r = _rowwise_pearson(np.asarray(x, dtype=float)[None, :], np.asarray(y, dtype=float)[None, :])[0]
    return float(r) if np.isfinite(r) else None
