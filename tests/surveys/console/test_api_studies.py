"""The REST API's studies, participants and exclusions, called as owner, other researcher and anonymous:
a study is made from finished jobs with a paradigm and a design, opened and closed; its participants,
responses, rules and overrides are the owner's alone; bad input is a 400 that stores nothing."""

import pytest
from rest_framework.test import APIClient

from surveys.generation.models import GenerationJob, JobStatus
from surveys.scoring.models import ExclusionDecision, ExclusionRules
from surveys.studies.models import Study, StudyStatus
from surveys.studies.paradigms import PARADIGMS
from tests.surveys import factories
from tests.surveys.scoring import planting

pytestmark = pytest.mark.django_db


@pytest.fixture
def answered(researcher):
    """A study three participants have completed."""
    made = factories.study(researcher, n_items=3)
    planting.crowd(made, accuracy={made.conditions.get().pk: 0.7}, n=3)
    return made


def test_it_makes_a_study_of_the_paradigm_and_design_asked_for(researcher, api_as):
    jobs = [factories.finished_job(researcher, n_items=4) for _ in range(2)]

    response = api_as(researcher).post("/api/studies/", {
        "name": "matching", "jobs": [job.pk for job in jobs], "paradigm": "matching",
        "design": {"k": 3, "catch_every": 2, "practice": True}}, format="json")

    assert response.status_code == 201, response.content
    made = response.json()
    study = Study.objects.get(pk=made["id"])
    assert (study.owner, study.paradigm, study.design_spec.k, study.design_spec.catch_every) == (
        researcher, "matching", 3, 2)
    assert [c["items"] for c in made["conditions"]] == [4, 4]
    assert made["measure"] == study.design_spec.traits.measure
    assert made["participant_link"].endswith(f"/s/{study.public_id}/")


@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_a_study_made_without_a_design_has_the_defaults_and_rule_that_admin_gives_it(researcher, api_as, paradigm):
    client = api_as(researcher)
    job = factories.finished_job(researcher, n_items=4)

    made = client.post("/api/studies/", {"name": "defaults", "jobs": [job.pk], "paradigm": paradigm}, format="json")

    assert made.status_code == 201, made.content
    study = Study.objects.get(pk=made.json()["id"])
    design = made.json()["design"]  # as admin's form and its Create study actions make it (one service)
    assert (design["practice"], design["gate"], design["catch_every"]) == (True, {"trials": 12, "pass": 7}, 25)
    rules = client.get(f"/api/studies/{study.pk}/exclusions/rules/").json()
    assert (rules["catch_min_accuracy"], rules["qualification_min_correct"]) == (0.75, 7)
    assert (study.instructions_html, study.prompt) == (PARADIGMS[paradigm].instructions, PARADIGMS[paradigm].prompt)


@pytest.mark.parametrize(("payload", "message"), [
    ({"design": {"k": 1}}, "k must be a whole number of at least 2."),
    ({"design": {"colour": "red"}}, "Unknown matching design options: colour."),
    ({"design": {"k": 9}}, "This design needs at least 9 targets per job; a job has 4."),
])
def test_it_refuses_a_design_the_study_cannot_have_and_stores_nothing(researcher, api_as, payload, message):
    job = factories.finished_job(researcher, n_items=4)

    response = api_as(researcher).post("/api/studies/", {"name": "bad", "jobs": [job.pk], "paradigm": "matching",
                                                          **payload}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": [message]}
    assert not Study.objects.exists()


def test_it_refuses_a_misspelt_field_rather_than_drop_it(researcher, api_as):
    job = factories.finished_job(researcher)

    response = api_as(researcher).post("/api/studies/", {"name": "x", "jobs": [job.pk], "desing": {"k": 3}},
                                       format="json")

    assert response.status_code == 400
    assert response.json()["non_field_errors"][0].startswith("Unknown fields: desing.")
    assert not Study.objects.exists()


def test_it_refuses_an_unknown_paradigm(researcher, api_as):
    job = factories.finished_job(researcher)

    response = api_as(researcher).post("/api/studies/", {"name": "x", "jobs": [job.pk], "paradigm": "poll"},
                                       format="json")

    assert response.status_code == 400
    assert response.json() == {"paradigm": ['"poll" is not a valid choice.']}
    assert not Study.objects.exists()


def test_it_refuses_a_job_that_has_not_finished(researcher, api_as):
    job = factories.finished_job(researcher)
    GenerationJob.objects.filter(pk=job.pk).update(status=JobStatus.RUNNING)

    response = api_as(researcher).post("/api/studies/", {"name": "x", "jobs": [job.pk]}, format="json")

    assert response.status_code == 400
    assert response.json() == {"detail": [f"Job {job.pk} is running; only finished jobs can be surveyed."]}
    assert not Study.objects.exists()


def test_it_will_not_build_a_study_from_another_researchers_job(researcher, other_researcher, api_as):
    theirs = factories.finished_job(researcher)

    response = api_as(other_researcher).post("/api/studies/", {"name": "x", "jobs": [theirs.pk]}, format="json")

    assert response.status_code == 404
    assert response.json() == {"detail": f"You have no generation job with id {theirs.pk}."}
    assert not Study.objects.exists()


def test_it_closes_and_reopens_a_study(study, researcher, api_as):
    closed = api_as(researcher).post(f"/api/studies/{study.pk}/close/")
    study.refresh_from_db()
    assert (closed.status_code, closed.json()["status"], study.status) == (200, "closed", StudyStatus.CLOSED)

    opened = api_as(researcher).post(f"/api/studies/{study.pk}/open/")
    study.refresh_from_db()
    assert (opened.status_code, study.status) == (200, StudyStatus.OPEN)


def test_it_lists_participants_and_their_responses(answered, researcher, api_as):
    participants = api_as(researcher).get(f"/api/studies/{answered.pk}/participants/").json()

    assert [(p["status"], p["trials"], p["answered"]) for p in participants] == [("completed", 3, 3)] * 3
    first = api_as(researcher).get(f"/api/studies/{answered.pk}/participants/{participants[0]['id']}/").json()
    assert [r["index"] for r in first["responses"]] == [0, 1, 2]
    assert {r["kind"] for r in first["responses"]} == {"main"}
    assert all(r["rt_ms"] == 800.0 for r in first["responses"])


def test_it_sets_reads_and_drops_exclusion_rules(answered, researcher, api_as):
    client = api_as(researcher)
    url = f"/api/studies/{answered.pk}/exclusions/rules/"

    put = client.put(url, {"catch_min_accuracy": 0.8, "min_median_rt_ms": 200}, format="json")
    patched = client.patch(url, {"min_median_rt_ms": 900}, format="json")

    assert put.status_code == 200, put.content
    assert (patched.json()["catch_min_accuracy"], patched.json()["min_median_rt_ms"]) == (0.8, 900.0)
    excluded = [d for d in client.get(f"/api/studies/{answered.pk}/exclusions/").json() if d["excluded"]]
    assert len(excluded) == 3  # every planted answer took 800 ms, under the 900 ms bound
    assert client.delete(url).status_code == 204
    assert not ExclusionRules.objects.exists()
    assert client.get(url).status_code == 404


def test_it_refuses_a_rule_out_of_range_and_keeps_the_old_ones(answered, researcher, api_as):
    url = f"/api/studies/{answered.pk}/exclusions/rules/"
    api_as(researcher).put(url, {"catch_min_accuracy": 0.8}, format="json")

    response = api_as(researcher).put(url, {"catch_min_accuracy": 1.5}, format="json")

    assert response.status_code == 400
    assert response.json() == {"catch_min_accuracy": ["Ensure this value is less than or equal to 1.0."]}
    assert ExclusionRules.objects.get().catch_min_accuracy == 0.8


def test_it_refuses_a_misspelt_rule_and_keeps_the_old_ones(answered, researcher, api_as):
    url = f"/api/studies/{answered.pk}/exclusions/rules/"
    api_as(researcher).put(url, {"catch_min_accuracy": 0.8}, format="json")

    response = api_as(researcher).put(url, {"catch_min_acuracy": 0.9}, format="json")

    assert response.status_code == 400
    assert response.json()["non_field_errors"][0].startswith("Unknown fields: catch_min_acuracy.")
    assert ExclusionRules.objects.get().catch_min_accuracy == 0.8


def test_it_lists_overrides_oldest_first(answered, researcher, api_as):
    url = f"/api/studies/{answered.pk}/exclusions/overrides/"
    who = answered.participants.order_by("pk").first().pk
    api_as(researcher).post(url, {"participant": who, "excluded": True, "note": "Phone call mid-study."})
    api_as(researcher).post(url, {"participant": who, "excluded": False, "note": "Data look fine after all."})

    overrides = api_as(researcher).get(url).json()

    assert [(o["excluded"], o["note"], o["author"]) for o in overrides] == [
        (True, "Phone call mid-study.", "researcher"), (False, "Data look fine after all.", "researcher")]


STUDY_PATHS = ["", "participants/", "exclusions/", "exclusions/rules/", "exclusions/overrides/"]


@pytest.mark.parametrize("path", STUDY_PATHS)
def test_it_hides_a_study_from_another_researcher(answered, other_researcher, api_as, path):
    assert api_as(other_researcher).get(f"/api/studies/{answered.pk}/{path}").status_code == 404


def test_it_keeps_another_researchers_hands_off_a_study(answered, researcher, other_researcher, api_as):
    client = api_as(other_researcher)
    who = answered.participants.first().pk

    answers = [client.post(f"/api/studies/{answered.pk}/close/").status_code,
               client.put(f"/api/studies/{answered.pk}/exclusions/rules/", {"catch_min_accuracy": 1.0},
                          format="json").status_code,
               client.get(f"/api/studies/{answered.pk}/participants/{who}/").status_code]

    assert answers == [404, 404, 404]
    answered.refresh_from_db()
    assert answered.status == StudyStatus.OPEN
    # The rules the study was made with are untouched (every study starts with its catch-accuracy rule).
    assert not ExclusionRules.objects.filter(catch_min_accuracy=1.0).exists()
    assert not ExclusionDecision.objects.exists()
    assert api_as(other_researcher).get("/api/studies/").json() == []


@pytest.mark.parametrize("path", ["", *STUDY_PATHS])
def test_it_refuses_anyone_without_credentials(answered, path):
    url = f"/api/studies/{answered.pk}/{path}" if path else "/api/studies/"
    assert APIClient().get(url).status_code == 401
