"""Personas: a researcher manages their own rows; another researcher cannot see them at all."""

import pytest
from rest_framework.test import APIClient

from tests.surveys import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner():
    return factories.researcher("owner")


@pytest.fixture
def other():
    return factories.researcher("other")


@pytest.fixture
def study(owner):
    return factories.study(owner, n_items=2)


def test_a_researcher_sees_their_own_jobs_and_studies_in_admin(client, owner, study):
    client.force_login(owner)
    job = study.jobs.get()

    assert client.get("/admin/generation/generationjob/").status_code == 200
    assert client.get(f"/admin/generation/generationjob/{job.pk}/change/").status_code == 200
    page = client.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert f"/s/{study.public_id}/" in page
    assert 'id="iris-scores"' in page
    assert f"/researcher/studies/{study.pk}/results/" in page


def test_another_researcher_cannot_open_them(client, other, study):
    client.force_login(other)
    job = study.jobs.get()

    assert client.get(f"/admin/generation/generationjob/{job.pk}/change/").status_code == 302  # "does not exist"
    assert client.get("/admin/generation/generationjob/").context["cl"].result_count == 0
    assert client.get(f"/researcher/jobs/{job.pk}/progress").status_code == 404
    stimulus = job.stimuli.first()
    assert client.get(f"/researcher/files/{stimulus.iri_png.name}").status_code == 404


def test_the_api_answers_only_for_the_owners_rows(owner, other, study):
    api = APIClient()
    api.force_authenticate(other)
    assert api.get(f"/api/studies/{study.pk}/scores/").status_code == 404
    assert api.get("/api/jobs/").json() == []

    api.force_authenticate(owner)
    assert api.get(f"/api/studies/{study.pk}/scores/").status_code == 200
    assert len(api.get("/api/jobs/").json()) == 1


def test_a_participant_cannot_reach_researcher_pages(client, study):
    assert client.get("/admin/generation/generationjob/").status_code == 302
    assert client.get("/api/jobs/").status_code in (401, 403)
    assert client.get(f"/researcher/files/{study.items.first().stimulus.iri_png.name}").status_code == 302
