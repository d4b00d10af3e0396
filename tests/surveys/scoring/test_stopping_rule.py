"""The stopping rule's numbers (docs/method.md §3, "Stopping rule"), on simulated participants and
items whose spreads are known: the item part of an interval, how many more participants a target
takes, and the verdict. Pure numpy, no database."""

import numpy as np
import pytest

from surveys.scoring.bootstrap import crossed_counts, share_interval
from surveys.scoring.report import ConditionMeta, ConditionScore, condition_scores
from surveys.scoring.simulation import Truth, simulate_responses
from surveys.scoring.stats import item_part, participants_needed
from surveys.scoring.stopping import MIN_PARTICIPANTS_TO_STOP, stopping_verdict


def simulated(*, participants: int, item_sd: float, items: int = 20, seed: int = 0, rated: bool = False):
    effect = 4.0 if rated else 0.5
    return simulate_responses(Truth((effect,), participant_sd=0.5, item_sd=item_sd, participants=participants,
                                    items=items, rated=rated), seed=seed)


def values(table, *, rated: bool = False) -> np.ndarray:
    return table.rating if rated else table.correct


def ci_width(table, *, rated: bool = False) -> float:
    paradigm = "similarity" if rated else "2afc"
    score = condition_scores(table, [ConditionMeta(1, "c")], paradigm=paradigm, chance=None, seed=1)[0]
    return score.ci_high - score.ci_low


@pytest.mark.parametrize("rated", [False, True])
def test_the_item_part_is_what_is_left_of_the_interval_when_participants_abound(rated):
    """With thousands of participants the participants' part of the CI has all but vanished."""
    crowd = simulated(participants=3000, item_sd=1.0, rated=rated)

    ratio = item_part(crowd.participant, crowd.item, values(crowd, rated=rated)).width / ci_width(crowd, rated=rated)

    assert 0.85 < ratio < 1.15


def test_a_few_participants_estimate_the_item_part_they_will_never_shrink():
    """Twenty participants' estimate is, on average, the limit that thousands reach; an item-only
    bootstrap, which also counts the responses' noise (which more participants do shrink), is far wider."""
    limit = ci_width(simulated(participants=3000, item_sd=0.5))
    few = [simulated(participants=20, item_sd=0.5, seed=seed) for seed in range(40)]

    ours = np.mean([item_part(t.participant, t.item, t.correct).width for t in few])
    naive = np.mean([_items_only_width(t) for t in few])

    assert abs(ours - limit) < 0.15 * limit
    assert naive > ours + 0.3 * limit


def _items_only_width(table) -> float:
    hits, totals = crossed_counts(table.participant, table.item, table.correct)
    everyone = np.ones((2000, hits.shape[0]), dtype=np.float32)  # participants kept, items resampled
    interval = share_interval(hits, totals, rng=np.random.default_rng(0), participant_weights=everyone)
    return interval.high - interval.low


def test_without_item_effects_the_item_part_is_nearly_nothing():
    parts = [item_part(t.participant, t.item, t.correct)
             for t in (simulated(participants=12, item_sd=0.0, seed=seed) for seed in range(40))]

    assert np.mean([p.width for p in parts]) < 0.05
    assert np.mean([p.low == 0.0 for p in parts]) > 0.8


def test_the_lower_bound_is_rarely_above_the_item_part_it_bounds():
    limit = ci_width(simulated(participants=3000, item_sd=0.5))
    lows = np.array([item_part(t.participant, t.item, t.correct).low
                     for t in (simulated(participants=20, item_sd=0.5, seed=seed) for seed in range(100))])

    assert np.mean(lows > limit) <= 0.08


def test_more_participants_narrow_only_the_participants_part():
    assert participants_needed(participants=10, width=0.2, target_width=0.1, item_width=0.0) == 30
    assert participants_needed(participants=10, width=0.2, target_width=0.1, item_width=0.05) == 40
    assert participants_needed(participants=10, width=0.2, target_width=0.1, item_width=0.1) is None
    assert participants_needed(participants=10, width=0.08, target_width=0.1, item_width=0.09) == 0


# --- the verdict -------------------------------------------------------------------------------------

def score(label: str, width: float, *, participants: int = 20, item: float = 0.0, item_low: float = 0.0,
          more: int | None = 5) -> ConditionScore:
    return ConditionScore(condition_id=hash(label) % 1000, label=label, participants=participants, items=8,
                          trials=8 * participants, alignment=0.6, ci_low=0.5, ci_high=0.5 + width,
                          item_majority=0.5, more_participants_needed=more, item_part_width=item,
                          item_part_low=item_low)


def test_it_stops_once_every_interval_is_at_most_the_target():
    verdict = stopping_verdict(scores=[score("a", 0.0625), score("b", 0.125)], usable=20, places=None, target=0.125)

    assert verdict.done and verdict.wanted == 20
    assert verdict.reason == ("every condition's 95% CI is no wider than the target 0.125 (widest 0.125, b) "
                              "with 20 usable participants")


def test_while_one_interval_is_wider_it_wants_the_projected_participants_more():
    verdict = stopping_verdict(scores=[score("a", 0.09), score("b", 0.15, more=12), score("c", 0.12, more=4)],
                               usable=20, places=None, target=0.1)

    assert not verdict.done and verdict.wanted == 32
    assert "2 of 3 conditions' 95% CIs are wider than the target 0.100 (widest 0.150, b)" in verdict.reason


def test_a_target_the_items_alone_exceed_stops_the_study_and_says_why():
    verdict = stopping_verdict(scores=[score("a", 0.09), score("b", 0.3, item=0.25, item_low=0.2, more=None)],
                               usable=20, places=100, target=0.1)

    assert verdict.done
    assert verdict.reason.startswith("the target CI width 0.100 cannot be reached by more participants: in b the "
                                     "items alone make the interval about 0.250 wide (at least 0.200")


def test_an_item_part_that_may_be_noise_keeps_it_recruiting():
    verdict = stopping_verdict(scores=[score("b", 0.3, item=0.12, item_low=0.06, more=None)], usable=20, places=None,
                               target=0.1)

    assert not verdict.done and verdict.wanted == 20 + MIN_PARTICIPANTS_TO_STOP
    assert "the items alone may keep the 95% CI wider" in verdict.reason


def test_no_interval_is_judged_before_each_condition_has_enough_participants():
    narrow_but_few = [score("a", 0.01, participants=MIN_PARTICIPANTS_TO_STOP - 3), score("b", 0.01)]

    verdict = stopping_verdict(scores=narrow_but_few, usable=20, places=None, target=0.1)

    assert not verdict.done and verdict.wanted == 23


def test_the_cap_stops_it_first_and_bounds_what_it_wants():
    wide = [score("a", 0.3, more=50)]

    capped = stopping_verdict(scores=wide, usable=30, places=40, target=0.1)
    full = stopping_verdict(scores=wide, usable=40, places=40, target=0.1)

    assert (capped.done, capped.wanted) == (False, 40)
    assert full.done and full.reason.startswith("the cap is reached: 40 usable participants of 40, before")


def test_without_a_target_only_the_cap_stops_it():
    assert stopping_verdict(scores=[], usable=5, places=None, target=None).done is False
    assert stopping_verdict(scores=[], usable=5, places=None, target=None).wanted is None
    assert stopping_verdict(scores=[], usable=5, places=6, target=None).wanted == 6
    assert stopping_verdict(scores=[], usable=6, places=6, target=None).reason == (
        "the cap is reached: 6 usable participants of 6")
