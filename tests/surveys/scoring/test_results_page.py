"""The results page: owner only, the table, plots as PNG and SVG, overrides from the page."""

import io

import pytest
from django.urls import reverse
from PIL import Image

from surveys.console.links import results_link
from surveys.scoring import services
from surveys.scoring.models import DecisionSource, ExclusionDecision
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(researcher):
    """Two conditions four participants have completed."""
    made = factories.study(researcher, n_items=4, jobs=2)
    first, second = made.conditions.values_list("pk", flat=True)
    planting.crowd(made, accuracy={first: 0.9, second: 0.2}, n=4, seed=2)
    return made


def results_url(study) -> str:
    return reverse("scoring-study-results", args=[study.pk])


def test_it_sends_an_anonymous_visitor_to_the_login_page(client, answered):
    response = client.get(results_url(answered))

    assert response.status_code == 302 and "login" in response["Location"]


def test_it_hides_a_study_from_another_researcher(client, answered, other_researcher):
    client.force_login(other_researcher)

    assert client.get(results_url(answered)).status_code == 404
    assert client.get(reverse("scoring-study-plot", args=[answered.pk, "alignment", "png"])).status_code == 404
    assert client.get(reverse("scoring-study-responses", args=[answered.pk])).status_code == 404


def test_it_shows_the_owner_the_scores_table(client, researcher, answered):
    client.force_login(researcher)

    page = client.get(results_url(answered)).content.decode()

    for condition in answered.conditions.all():
        assert condition.label in page
    assert 'id="exclusions"' in page and 'id="comparisons"' in page


@pytest.mark.parametrize("name", ["alignment", "layers", "mixed", "proxy"])
def test_it_draws_each_plot_as_png_and_svg(client, researcher, answered, name):
    client.force_login(researcher)

    png = client.get(reverse("scoring-study-plot", args=[answered.pk, name, "png"]))
    svg = client.get(reverse("scoring-study-plot", args=[answered.pk, name, "svg"]) + "?download=1")

    assert png["Content-Type"] == "image/png"
    assert len(Image.open(io.BytesIO(png.content)).getcolors(maxcolors=1 << 16) or []) > 10
    assert svg["Content-Type"] == "image/svg+xml" and b"<svg" in svg.content
    assert svg["Content-Disposition"].endswith(f'{name}.svg"')


def test_it_records_an_override_made_on_the_page(client, researcher, answered):
    client.force_login(researcher)
    participant = answered.participants.first()

    response = client.post(reverse("scoring-study-exclusion-override", args=[answered.pk]),
                           {"participant": participant.pk, "excluded": "1", "note": "Spoke to the experimenter."})

    assert response.status_code == 302
    assert ExclusionDecision.objects.get(source=DecisionSource.OVERRIDE).excluded


def test_it_gives_admin_a_link_to_the_results(answered):
    assert results_url(answered) in results_link(answered)


def test_it_shows_a_study_nobody_has_finished_yet(client, researcher):
    empty = factories.study(researcher, n_items=3)
    services.exclusion_rules_set(study=empty, catch_min_accuracy=0.5, min_median_rt_ms=200, max_one_sided_share=0.9,
                                 target_ci_width=0.1)
    client.force_login(researcher)

    assert client.get(results_url(empty)).status_code == 200
    for name in ("alignment", "layers", "proxy"):
        assert client.get(reverse("scoring-study-plot", args=[empty.pk, name, "png"])).status_code == 200
