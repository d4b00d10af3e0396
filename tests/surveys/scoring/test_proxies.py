"""The perceptual-distance proxy beside the humans: per condition, and per item against the human majority."""

import pytest

from surveys.generation.models import Stimulus
from surveys.scoring.proxies import condition_proxy, proxy_agreement, proxy_entries
from surveys.scoring.selectors import study_report
from tests.surveys import factories
from tests.surveys.scoring import planting


def proxy(**distances) -> dict:
    return {name: {"d_target": t, "d_seed": s, "aligned": t <= s} for name, (t, s) in distances.items()}


def test_it_reads_a_missing_empty_or_malformed_proxy_as_no_proxy():
    assert proxy_entries(None) == {} and proxy_entries({}) == {} and proxy_entries("lpips") == {}
    assert proxy_entries({"lpips": {"d_target": "x"}, "dists": {"d_target": 0.1, "d_seed": 0.3}}) == {
        "dists": (0.1, 0.3, True)}


def test_it_reports_the_share_of_proxy_aligned_iris_with_its_spread_over_distances():
    stored = [proxy(lpips=(0.1, 0.5), dists=(0.2, 0.1)), proxy(lpips=(0.1, 0.5), dists=(0.1, 0.3)), None]

    result = condition_proxy(7, stored)

    assert result.shares == {"dists": 0.5, "lpips": 1.0}
    assert result.mean == pytest.approx(0.75) and result.spread == pytest.approx(0.25)
    assert (result.low, result.high, result.items) == (0.5, 1.0, 2)


def test_it_measures_agreement_between_proxy_and_human_majority_per_item():
    human = {1: 0.9, 2: 0.8, 3: 0.2, 4: 0.1}
    stored = {1: proxy(lpips=(0.1, 0.9)), 2: proxy(lpips=(0.3, 0.5)), 3: proxy(lpips=(0.6, 0.4)),
              4: proxy(lpips=(0.2, 0.3))}

    [agreement] = proxy_agreement(human, stored)

    assert agreement.distance == "lpips" and agreement.items == 4
    assert agreement.accuracy == pytest.approx(0.75)  # item 4: proxy aligned, humans not
    assert agreement.correlation > 0.5


@pytest.mark.django_db
def test_it_puts_the_stored_proxy_beside_the_human_score():
    study = factories.study(factories.researcher(), n_items=4)
    for index, stimulus in enumerate(Stimulus.objects.order_by("pk")):
        stimulus.proxy = proxy(lpips=(0.1, 0.2 if index < 3 else 0.05))
        stimulus.save()
    planting.crowd(study, accuracy={study.conditions.get().pk: 1.0}, n=3)

    report = study_report(study=study, resamples=50)

    assert report.proxies[0].mean == pytest.approx(0.75)
    assert report.proxy_agreement[0].accuracy == pytest.approx(0.75)
