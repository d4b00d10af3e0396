"""Submitting a generation job over the REST API with everything admin's job form offers (distances,
recognizers); a refusal is a 400 that names the problem and stores nothing; others' rows are 404."""

import pytest

from surveys.generation import services
from surveys.generation.models import GenerationBatch, GenerationJob, RegisteredModel
from tests.surveys import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def targets(researcher):
    uploads = [(f"t{i}.png", factories.png_bytes((40 * i, 90, 200), size=32)) for i in range(3)]
    return services.target_set_create(owner=researcher, name="targets", uploads=uploads)


@pytest.fixture
def models(researcher) -> tuple[RegisteredModel, RegisteredModel]:
    """The network IRIs are made for, and a classifier that judges them."""
    made, judge = factories.registered_model(researcher), factories.registered_model(researcher)
    RegisteredModel.objects.filter(pk=judge.pk).update(is_classifier=True)
    return made, judge


def test_it_queues_a_job_with_its_distances_and_recognizers(researcher, api_as, targets, models):
    made, judge = models
    proxy = {"model": judge.pk, "layers": ["layer1"]}

    response = api_as(researcher).post("/api/jobs/", {
        "model": made.pk, "target_set": targets.pk, "config": {"layers": ["layer2", "layer3"], "iterations": 10},
        "proxies": [proxy], "recognizers": [judge.pk]}, format="json")

    assert response.status_code == 201, response.content
    job = GenerationJob.objects.get(pk=response.json()["id"])
    assert (job.owner, job.layers, job.proxies, job.recognizers) == (
        researcher, ["layer2", "layer3"], [proxy], [judge.pk])
    assert GenerationBatch.objects.filter(job=job).count() >= 2  # one per layer at least
    assert response.json()["status"] == "queued"


@pytest.mark.parametrize(("extra", "message"), [
    ({"config": {"layers": ["layer2"], "iterations": -5}}, "iterations"),
    ({"config": {"layers": ["layer9"]}}, "has no layer named 'layer9'"),
    ({"recognizers": "judge"}, None),
    ({"recognisers": [1]}, None),  # misspelt: refused, not dropped
])
def test_it_refuses_a_bad_job_and_stores_nothing(researcher, api_as, targets, models, extra, message):
    made, _ = models
    payload = {"model": made.pk, "target_set": targets.pk, "config": {"layers": ["layer2"]}, **extra}

    response = api_as(researcher).post("/api/jobs/", payload, format="json")

    assert response.status_code == 400
    if message:
        assert message in response.json()["detail"][0]
    assert not GenerationJob.objects.exists()


def test_it_refuses_a_recognizer_that_is_not_a_classifier(researcher, api_as, targets, models):
    made, _ = models

    response = api_as(researcher).post("/api/jobs/", {"model": made.pk, "target_set": targets.pk,
                                                      "config": {"layers": ["layer2"]}, "recognizers": [made.pk]},
                                       format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": [f"Recognizer: {made.name} is not a classifier."]}
    assert not GenerationJob.objects.exists()


def test_it_will_not_make_a_job_of_another_researchers_targets(researcher, other_researcher, api_as, targets):
    theirs = factories.registered_model(other_researcher)

    response = api_as(other_researcher).post("/api/jobs/", {"model": theirs.pk, "target_set": targets.pk,
                                                            "config": {"layers": ["layer2"]}}, format="json")

    assert response.status_code == 404
    assert not GenerationJob.objects.exists()
