"""The analyses reviewers expect: the mixed models and d′ recover simulated parameters, response times
are summarised, and the results page, the report API and the plots show them to the study's owner.

The full coverage study (200 repetitions) is `python -m bench analyses`; here a handful of seeded
repetitions, whose assertions fail if an interval is systematically too narrow or off target.
"""

import math

import numpy as np
import pytest
from django.urls import reverse

from bench.analyses import BINARY, D_PRIME, RATED, d_prime_hits, mixed_hits, true_d_prime
from surveys.scoring.analyses import condition_response_times, d_prime_2afc, mixed_model
from surveys.scoring.data import MAIN, ResponseTable
from surveys.scoring.simulation import Truth, simulate_responses
from tests.surveys import factories
from tests.surveys.scoring import planting


def test_it_converts_2afc_proportion_correct_to_d_prime_with_the_1_over_2n_correction():
    values = d_prime_2afc(np.array([0.5, 0.76, 1.0, 0.0]), np.array([10, 10, 10, 10]))

    assert values[0] == pytest.approx(0.0)
    assert values[1] == pytest.approx(math.sqrt(2) * 0.7063, abs=1e-3)
    assert values[2] == pytest.approx(math.sqrt(2) * 1.6449, abs=1e-3)  # 1 -> 1 - 1/20 = 0.95
    assert values[3] == pytest.approx(-values[2])


def test_it_recovers_the_binary_mixed_models_condition_effects_and_contrasts():
    hits = [mixed_hits(Truth(**BINARY), seed=seed, paradigm="2afc") for seed in range(3)]

    conditions = sum(sum(h[0]) for h in hits)
    contrasts = sum(sum(h[1]) for h in hits)
    assert conditions >= 8, conditions  # of 9 intervals
    assert contrasts >= 8, contrasts


def test_it_recovers_the_rating_models_condition_effects_and_its_random_intercepts():
    truth = Truth(**RATED)
    model = mixed_model(simulate_responses(truth, seed=0), paradigm="similarity")

    assert all(c.low <= truth.effects[c.condition_id - 1] <= c.high for c in model.conditions)
    assert model.participant_sd == pytest.approx(truth.participant_sd, abs=0.3)
    assert model.item_sd == pytest.approx(truth.item_sd, abs=0.3)
    assert sum(mixed_hits(truth, seed=1, paradigm="similarity")[1]) == 3


def test_it_recovers_the_true_d_prime_within_its_interval():
    truth = Truth(**D_PRIME)
    targets = true_d_prime(truth)

    hits = [hit for seed in range(5) for hit in d_prime_hits(truth, targets, seed=seed, resamples=300)]

    assert sum(hits) >= 9, hits  # of 10


def test_it_refuses_to_fit_with_a_single_participant():
    table = simulate_responses(Truth((0.5,), 0.3, 0.3, participants=1, items=5), seed=0)

    model = mixed_model(table, paradigm="2afc")

    assert not model.fitted and "fewer than two participants" in model.method


def test_it_refuses_to_fit_when_every_answer_is_the_same():
    table = simulate_responses(Truth((50.0,), 0.0, 0.0, participants=3, items=4), seed=0)

    model = mixed_model(table, paradigm="2afc")

    assert not model.fitted and "every answer is the same" in model.method


def test_it_summarises_response_times_per_condition_and_per_participant():
    rt = np.array([100.0, 200.0, 300.0, 400.0, np.nan, 1000.0])
    n = len(rt)
    rows = ResponseTable(participant=np.array([1, 1, 1, 2, 2, 2]), kind=np.full(n, MAIN), condition=np.ones(n, int),
                         item=np.arange(n), correct=np.ones(n), choice=np.zeros(n), rating=np.full(n, np.nan),
                         rt_ms=rt)

    times = condition_response_times(1, rows)

    assert times.trials == 5 and times.median_ms == 300.0
    assert (times.q25_ms, times.q75_ms) == (200.0, 400.0)
    assert times.participant_median_mean_ms == 450.0  # medians 200 and 700
    assert times.participant_median_sem_ms == pytest.approx(250.0)


@pytest.fixture
def answered(researcher):
    made = factories.study(researcher, n_items=6, jobs=2)
    first, second = made.conditions.values_list("pk", flat=True)
    planting.crowd(made, accuracy={first: 0.9, second: 0.3}, n=6, seed=3, rt_ms=640.0)
    return made


@pytest.mark.django_db
def test_it_reports_the_analyses_in_the_api_to_the_owner_only(answered, researcher, other_researcher, api_as):
    assert api_as(other_researcher).get(f"/api/studies/{answered.pk}/report/").status_code == 404

    analyses = api_as(researcher).get(f"/api/studies/{answered.pk}/report/").json()["analyses"]

    first, second = analyses["mixed"]["conditions"]
    assert analyses["mixed"]["fitted"] and first["probability"] > second["probability"]
    assert first["probability_low"] < first["probability"] < first["probability_high"]
    assert analyses["mixed"]["contrasts"][0]["low"] > 0  # 0.9 vs 0.3 right: clearly different
    assert analyses["d_prime"][0]["d_prime"] > analyses["d_prime"][1]["d_prime"]
    assert {t["median_ms"] for t in analyses["response_times"]} == {640.0}


@pytest.mark.django_db
def test_it_shows_the_analyses_on_the_results_page(client, answered, researcher):
    client.force_login(researcher)

    page = client.get(reverse("scoring-study-results", args=[answered.pk])).content.decode()

    assert 'id="mixed"' in page and 'id="mixed-contrasts"' in page
    assert "BinomialBayesMixedGLM" in page
    assert "640 [640, 640]" in page
    assert 'id="plot-mixed"' in page
