"""The scoring API: token authentication, one researcher never reads another's study, a valid schema."""

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from surveys.scoring.models import DecisionSource, ExclusionDecision
from surveys.trials.models import ParticipantStatus
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
ENDPOINTS = ["scores/", "report/", "responses.csv", "stimuli.csv"]


@pytest.fixture
def answered(researcher):
    """A study three participants have completed."""
    made = factories.study(researcher, n_items=3)
    planting.crowd(made, accuracy={made.conditions.get().pk: 0.7}, n=3)
    return made


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_serves_the_owner_with_a_token(answered, researcher, api_as, endpoint):
    assert api_as(researcher).get(f"/api/studies/{answered.pk}/{endpoint}").status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_hides_a_study_from_another_researcher(answered, other_researcher, api_as, endpoint):
    assert api_as(other_researcher).get(f"/api/studies/{answered.pk}/{endpoint}").status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_refuses_anyone_without_credentials(answered, endpoint):
    assert APIClient().get(f"/api/studies/{answered.pk}/{endpoint}").status_code == 401


def test_it_reports_everything_the_results_page_shows(answered, researcher, api_as):
    report = api_as(researcher).get(f"/api/studies/{answered.pk}/report/").json()

    assert {"conditions", "conditions_without_exclusions", "comparisons", "reliability", "exclusions", "proxies",
            "proxy_agreement", "item_scores"} <= set(report)
    assert report["conditions"][0]["participants"] == 3


def test_it_records_an_override_through_the_api(answered, researcher, other_researcher, api_as):
    participant = answered.participants.first()
    payload = {"participant": participant.pk, "excluded": True, "note": "Reported a broken screen."}
    before = api_as(researcher).get(f"/api/studies/{answered.pk}/report/").json()  # now cached

    refused = api_as(other_researcher).post(f"/api/studies/{answered.pk}/exclusions/overrides/", payload)
    made = api_as(researcher).post(f"/api/studies/{answered.pk}/exclusions/overrides/", payload)

    assert refused.status_code == 404
    assert made.status_code == 201
    assert ExclusionDecision.objects.get(source=DecisionSource.OVERRIDE).note == "Reported a broken screen."
    report = api_as(researcher).get(f"/api/studies/{answered.pk}/report/").json()
    assert (before["conditions"][0]["participants"], report["conditions"][0]["participants"]) == (3, 2)


def test_it_refuses_an_override_without_a_note(answered, researcher, api_as):
    response = api_as(researcher).post(f"/api/studies/{answered.pk}/exclusions/overrides/",
                                       {"participant": answered.participants.first().pk, "excluded": True,
                                        "note": " "})
    assert response.status_code == 400
    assert response.json() == {"note": ["This field may not be blank."]}


def test_it_answers_a_refused_override_with_the_services_reason(answered, researcher, api_as):
    dropout = planting.participant(answered, status=ParticipantStatus.CONSENTED)

    response = api_as(researcher).post(f"/api/studies/{answered.pk}/exclusions/overrides/",
                                       {"participant": dropout.pk, "excluded": True, "note": "Left early."})

    assert response.status_code == 400
    assert response.json() == {"detail": ["Only completed, non-pilot participants are scored."]}
    assert not ExclusionDecision.objects.exists()


def test_it_generates_the_openapi_schema_without_errors(tmp_path, researcher, api_as):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/studies/{study_id}/responses.csv" in schema
    assert "/api/studies/{study_id}/report/" in schema
    assert api_as(researcher).get("/api/schema/").status_code == 200
