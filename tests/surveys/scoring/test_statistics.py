"""The statistics on simulated participants whose true accuracy is known (pure numpy, no database)."""

import numpy as np
import pytest

from surveys.scoring.bootstrap import crossed_counts, share_interval
from surveys.scoring.data import CATCH, MAIN, QUALIFICATION, ResponseTable
from surveys.scoring.exclusions import Rules, exclusion_reasons
from surveys.scoring.report import ConditionMeta, comparisons, condition_scores
from surveys.scoring.stats import (
    NORMAL_ABOVE,
    _random_flip_means,
    compare_conditions_p,
    mean_sem,
    participants_needed,
    sign_flip_p,
    split_half_reliability,
)

TRUE_ACCURACY = {1: 0.80, 2: 0.55, 3: 0.25}
REPETITIONS = 100
T_975_DF15 = 2.131  # Student's t quantile for a 95% interval from 16 participants


def simulate(seed: int, *, participants: int = 16, items: int = 20, accuracy=TRUE_ACCURACY,
             spread: float = 0.0) -> ResponseTable:
    """Every participant answers every item of every condition, right with the condition's probability.

    spread: sd of additive participant and item effects on that probability (mean zero, so the
    population accuracy of a condition stays the planted one).
    """
    rng = np.random.default_rng(seed)
    p, c, i = np.meshgrid(np.arange(participants), list(accuracy), np.arange(items), indexing="ij")
    p, c, i = p.ravel(), c.ravel(), i.ravel()
    effects = rng.normal(0, spread, participants)[p] + rng.normal(0, spread, (len(accuracy), items))[
        np.searchsorted(list(accuracy), c), i]
    correct = (rng.random(len(p)) < np.clip(np.vectorize(accuracy.get)(c) + effects, 0, 1)).astype(float)
    n = len(p)
    return ResponseTable(participant=p + 1, kind=np.full(n, MAIN), condition=c, item=c * 1000 + i, correct=correct,
                         choice=np.where(correct == 1, 0.0, 1.0), rating=np.full(n, np.nan), rt_ms=np.full(n, 700.0))


def coverage(*, spread: float) -> dict[int, int]:
    metas = [ConditionMeta(c, f"c{c}") for c in TRUE_ACCURACY]
    covered = {c: 0 for c in TRUE_ACCURACY}
    for seed in range(REPETITIONS):
        for score in condition_scores(simulate(seed, spread=spread), metas, paradigm="2afc", chance=0.5,
                                      resamples=500, seed=seed):
            covered[score.condition_id] += score.ci_low <= TRUE_ACCURACY[score.condition_id] <= score.ci_high
    return covered


def test_it_covers_the_true_accuracy_in_at_least_90_percent_of_100_seeded_repetitions():
    covered = coverage(spread=0.0)

    assert all(count >= 0.9 * REPETITIONS for count in covered.values()), covered


def test_it_still_covers_it_when_participants_and_items_differ():
    covered = coverage(spread=0.08)  # the case the crossed bootstrap is for

    assert all(count >= 0.9 * REPETITIONS for count in covered.values()), covered


def test_it_covers_the_true_accuracy_with_the_sem_across_participants_too():
    covered = 0
    for seed in range(REPETITIONS):
        table = simulate(seed, accuracy={1: 0.4})
        _, means = np.unique(table.participant, return_inverse=True)
        spread = mean_sem(np.bincount(means, weights=table.correct) / np.bincount(means))
        covered += abs(spread.mean - 0.4) <= T_975_DF15 * spread.sem
    assert covered >= 0.9 * REPETITIONS


def test_it_reports_the_share_of_correct_trials_as_the_estimate():
    hits, totals = crossed_counts(np.array([1, 1, 2, 2]), np.array([7, 8, 7, 8]), np.array([1, 0, 1, 1]))

    interval = share_interval(hits, totals, resamples=200, rng=np.random.default_rng(0))

    assert interval.estimate == pytest.approx(0.75)
    assert interval.low <= 0.75 <= interval.high


def test_it_tests_against_chance_exactly_with_few_participants():
    assert sign_flip_p(np.array([0.3, 0.2, 0.4]), rng=np.random.default_rng(0)) == pytest.approx(2 / 8)
    assert sign_flip_p(np.array([0.3, -0.3]), rng=np.random.default_rng(0)) == pytest.approx(1.0)


def test_it_tells_different_conditions_apart_and_not_equal_ones():
    table = simulate(1, participants=30)
    scores = condition_scores(table, [ConditionMeta(c, "") for c in TRUE_ACCURACY], paradigm="2afc", chance=0.5,
                              resamples=200, seed=1)

    found = {(c.a, c.b): c for c in comparisons(table, scores, paradigm="2afc", seed=1)}

    assert found[(1, 3)].p_value < 0.001 and found[(1, 3)].method == "paired"
    rng = np.random.default_rng(2)
    ids = np.arange(40)
    p_same, _ = compare_conditions_p(ids, rng.random(40), ids, rng.random(40), rng=rng)
    assert p_same > 0.01


def test_it_compares_conditions_seen_by_different_participants_by_shuffling_groups():
    rng = np.random.default_rng(3)
    p_value, method = compare_conditions_p(np.arange(20), rng.normal(1, 0.2, 20), np.arange(20, 40),
                                           rng.normal(0, 0.2, 20), rng=rng)
    assert method == "unpaired" and p_value < 0.001


def test_it_finds_reliable_item_differences_and_the_noise_ceiling_they_imply():
    rng = np.random.default_rng(4)
    item_accuracy = rng.uniform(0.05, 0.95, 40)
    sums = (rng.random((60, 40)) < item_accuracy).astype(float)

    reliable = split_half_reliability(sums, np.ones_like(sums), rng=rng)
    noise = split_half_reliability((rng.random((60, 40)) < 0.5).astype(float), np.ones_like(sums), rng=rng)

    assert reliable.spearman_brown > 0.9
    assert reliable.spearman_brown == pytest.approx(2 * reliable.split_half_r / (1 + reliable.split_half_r))
    assert reliable.noise_ceiling == pytest.approx(np.sqrt(reliable.spearman_brown))
    assert noise.spearman_brown < 0.5


def test_it_says_how_many_more_participants_halve_an_interval():
    assert participants_needed(participants=10, width=0.2, target_width=0.1) == 30
    assert participants_needed(participants=10, width=0.05, target_width=0.1) == 0
    assert participants_needed(participants=10, width=0.2, target_width=None) is None


def test_it_excludes_exactly_the_planted_bad_participants():
    table = simulate(5, participants=10, items=10)
    catch = ResponseTable(participant=np.repeat(np.arange(1, 11), 4), kind=np.full(40, CATCH),
                          condition=np.full(40, -1), item=np.full(40, -1),
                          correct=np.array([[1, 1, 1, 1]] * 9 + [[0, 1, 0, 0]], dtype=float).ravel(),
                          choice=np.zeros(40), rating=np.full(40, np.nan), rt_ms=np.full(40, 700.0))
    gate = ResponseTable(participant=np.repeat(np.arange(1, 11), 3), kind=np.full(30, QUALIFICATION),
                         condition=np.full(30, -1), item=np.full(30, -1),
                         correct=np.array([[1, 1, 0]] * 8 + [[0, 0, 1]] + [[1, 1, 1]], dtype=float).ravel(),
                         choice=np.zeros(30), rating=np.full(30, np.nan), rt_ms=np.full(30, 700.0))
    rt = table.rt_ms.copy()
    rt[table.participant == 2] = 120.0  # too fast
    choice = table.choice.copy()
    choice[table.participant == 3] = 1.0  # always the right-hand option
    merged = ResponseTable(*(np.concatenate([getattr(t, name) for t in (table, catch, gate)]) for name in (
        "participant", "kind", "condition", "item", "correct", "choice", "rating", "rt_ms")))
    merged.rt_ms[: len(rt)], merged.choice[: len(rt)] = rt, choice

    reasons = exclusion_reasons(merged, Rules(catch_min_accuracy=0.75, min_median_rt_ms=250,
                                              max_one_sided_share=0.9, qualification_min_correct=2))

    assert set(reasons) == {2, 3, 9, 10}
    assert "median response time 120 ms" in reasons[2]
    assert "one-sided" in reasons[3]
    assert "qualification" in reasons[9]
    assert "catch accuracy 0.25" in reasons[10]


def test_it_agrees_with_the_random_flips_when_it_uses_the_normal_shortcut_for_big_crowds():
    rng = np.random.default_rng(6)
    differences = rng.normal(0.03, 0.5, NORMAL_ABOVE + 500)

    shortcut = sign_flip_p(differences, rng=rng)
    flips = np.abs(_random_flip_means(differences, rng=rng))

    assert shortcut == pytest.approx(np.mean(flips >= abs(differences.mean())), abs=0.03)
