"""Personas: a researcher manages their own rows; another researcher cannot see them at all; a
participant (anonymous) reaches no researcher page."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_researcher_sees_their_own_jobs_and_studies_in_admin(client, researcher, study):
    client.force_login(researcher)
    job = study.jobs.get()

    assert client.get("/admin/generation/generationjob/").status_code == 200
    assert client.get(f"/admin/generation/generationjob/{job.pk}/change/").status_code == 200
    page = client.get(f"/admin/studies/study/{study.pk}/change/").content.decode()
    assert f"/s/{study.public_id}/" in page
    assert 'id="iris-scores"' in page
    assert f"/researcher/studies/{study.pk}/results/" in page


def test_another_researcher_cannot_open_them(client, other_researcher, study):
    client.force_login(other_researcher)
    job = study.jobs.get()

    assert client.get(f"/admin/generation/generationjob/{job.pk}/change/").status_code == 302  # "does not exist"
    assert client.get("/admin/generation/generationjob/").context["cl"].result_count == 0
    assert client.get(f"/researcher/jobs/{job.pk}/progress").status_code == 404
    stimulus = job.stimuli.first()
    assert client.get(f"/researcher/files/{stimulus.iri_png.name}").status_code == 404


def test_a_superuser_sees_every_researchers_rows(client, superuser, study):
    client.force_login(superuser)

    assert client.get("/admin/generation/generationjob/").context["cl"].result_count == 1
    assert client.get(f"/researcher/files/{study.items.first().stimulus.iri_png.name}").status_code == 200


def test_the_api_answers_only_for_the_owners_rows(api_as, researcher, other_researcher, study):
    assert api_as(other_researcher).get(f"/api/studies/{study.pk}/scores/").status_code == 404
    assert api_as(other_researcher).get("/api/jobs/").json() == []

    assert api_as(researcher).get(f"/api/studies/{study.pk}/scores/").status_code == 200
    assert len(api_as(researcher).get("/api/jobs/").json()) == 1


def test_a_participant_cannot_reach_researcher_pages(anonymous, study):
    assert anonymous.get("/admin/generation/generationjob/").status_code == 302
    assert anonymous.get("/api/jobs/").status_code == 401
    assert anonymous.get(f"/researcher/files/{study.items.first().stimulus.iri_png.name}").status_code == 302
