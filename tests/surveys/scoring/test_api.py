"""The scoring API: token authentication, one researcher never reads another's study, a valid schema."""

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from surveys.scoring.models import DecisionSource, ExclusionDecision
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db
ENDPOINTS = ["scores/", "report/", "responses.csv", "stimuli.csv"]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


@pytest.fixture
def researcher():
    return factories.researcher("researcher")


@pytest.fixture
def other_researcher():
    return factories.researcher("other-researcher")


@pytest.fixture
def study(researcher):
    made = factories.study(researcher, n_items=3)
    planting.crowd(made, accuracy={made.conditions.get().pk: 0.7}, n=3)
    return made


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_serves_the_owner_with_a_token(study, researcher, endpoint):
    assert client_for(researcher).get(f"/api/studies/{study.pk}/{endpoint}").status_code == 200


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_hides_a_study_from_another_researcher(study, other_researcher, endpoint):
    assert client_for(other_researcher).get(f"/api/studies/{study.pk}/{endpoint}").status_code == 404


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_it_refuses_anyone_without_credentials(study, endpoint):
    assert APIClient().get(f"/api/studies/{study.pk}/{endpoint}").status_code in (401, 403)


def test_it_reports_everything_the_results_page_shows(study, researcher):
    report = client_for(researcher).get(f"/api/studies/{study.pk}/report/").json()

    assert {"conditions", "conditions_without_exclusions", "comparisons", "reliability", "exclusions", "proxies",
            "proxy_agreement", "item_scores"} <= set(report)
    assert report["conditions"][0]["participants"] == 3


def test_it_records_an_override_through_the_api(study, researcher, other_researcher):
    participant = study.participants.first()
    payload = {"participant": participant.pk, "excluded": True, "note": "Reported a broken screen."}
    before = client_for(researcher).get(f"/api/studies/{study.pk}/report/").json()  # now cached

    refused = client_for(other_researcher).post(f"/api/studies/{study.pk}/exclusions/overrides/", payload)
    made = client_for(researcher).post(f"/api/studies/{study.pk}/exclusions/overrides/", payload)

    assert refused.status_code == 404
    assert made.status_code == 201
    assert ExclusionDecision.objects.get(source=DecisionSource.OVERRIDE).note == "Reported a broken screen."
    report = client_for(researcher).get(f"/api/studies/{study.pk}/report/").json()
    assert (before["conditions"][0]["participants"], report["conditions"][0]["participants"]) == (3, 2)


def test_it_refuses_an_override_without_a_note(study, researcher):
    response = client_for(researcher).post(f"/api/studies/{study.pk}/exclusions/overrides/",
                                           {"participant": study.participants.first().pk, "excluded": True,
                                            "note": " "})
    assert response.status_code == 400


def test_it_generates_the_openapi_schema_without_errors(tmp_path, researcher):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))

    schema = (tmp_path / "schema.yaml").read_text()
    assert "/api/studies/{study_id}/responses.csv" in schema
    assert "/api/studies/{study_id}/report/" in schema
    assert client_for(researcher).get("/api/schema/").status_code == 200
