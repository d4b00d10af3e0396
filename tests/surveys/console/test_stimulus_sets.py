"""A stimulus set made elsewhere, imported as its researcher meets it: admin's add page (a zip upload)
and its study actions, signed in; the REST API as owner, other researcher and anonymous. A refusal
shows on the form or as a 400 naming the item, and stores nothing."""

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from surveys.generation.models import GenerationJob, ImportedStimulusSet, JobKind, Stimulus, TargetSet
from surveys.scoring.services import study_create
from surveys.studies.models import Study
from surveys.studies.paradigms import PARADIGMS
from tests.surveys import factories
from tests.surveys.admin_coverage import submits

pytestmark = pytest.mark.django_db
ADD = "/admin/generation/importedstimulusset/add/"
SETS = "/api/stimulus-sets/"


def files_in_storage(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return sorted(path for path in root.rglob("*") if path.is_file()) if root.exists() else []


def the_zip(*, seeds: bool = True, missing: str | None = None) -> bytes:
    manifest, files = factories.stimulus_set(conditions=2, targets=4, seeds=seeds)
    return factories.stimulus_set_zip(manifest, {path: data for path, data in files.items() if path != missing})


def as_upload(data: bytes) -> io.BytesIO:
    file = io.BytesIO(data)
    file.name = "lab-x.zip"
    return file


def import_through_the_api(owner, data: bytes, *, name: str) -> ImportedStimulusSet:
    client = APIClient()
    client.force_authenticate(owner)
    response = client.post(SETS, {"name": name, "file": as_upload(data)}, format="multipart")
    assert response.status_code == 201, response.content
    return ImportedStimulusSet.objects.get(pk=response.json()["id"])


# --- admin ------------------------------------------------------------------------------------------

@submits("generation.importedstimulusset", "add")
def test_a_set_is_imported_on_admins_add_page_and_a_zip_missing_an_image_leaves_nothing(client, researcher,
                                                                                         settings):
    client.force_login(researcher)
    assert client.get(ADD).status_code == 200

    refused = client.post(ADD, {"name": "lab-x", "file": SimpleUploadedFile(
        "lab-x.zip", the_zip(missing="seeds/cond-1/t3.png"))})
    assert refused.status_code == 200
    assert "items[7].seed: &#x27;seeds/cond-1/t3.png&#x27; is not in the zip." in refused.content.decode()
    assert (GenerationJob.objects.count(), TargetSet.objects.count(), files_in_storage(settings)) == (0, 0, [])

    accepted = client.post(ADD, {"name": "lab-x", "file": SimpleUploadedFile("lab-x.zip", the_zip())})
    assert accepted.status_code == 302
    job = GenerationJob.objects.get()
    assert (job.kind, job.owner, job.target_set.name, job.stimuli.count()) == (JobKind.IMPORTED, researcher, "lab-x", 8)
    # 4 targets (targets/) and their 4 copies shown to participants (stimuli/, names that say nothing), 8 IRIs, 8 seeds.
    assert len(files_in_storage(settings)) == 24

    shown = client.get(reverse("admin:generation_importedstimulusset_change", args=[job.pk])).content.decode()
    assert "<th>cond-1</th><td>model-1 / layer3</td><td>4 passing</td>" in shown
    listed = client.get(reverse("admin:generation_generationjob_changelist")).content.decode()
    assert "imported set lab-x" in listed and "(imported)" in listed
    stimulus = job.stimuli.first()
    page = client.get(reverse("admin:generation_stimulus_change", args=[stimulus.pk])).content.decode()
    assert "imported: passes by its maker&#x27;s criterion" in page
    assert client.get(reverse("admin:generation_generationjob_change", args=[job.pk])).status_code == 200


CREATE_STUDY = [f"create_{paradigm}_study" for paradigm in PARADIGMS]


@submits("generation.importedstimulusset", *CREATE_STUDY)
@pytest.mark.parametrize("paradigm", list(PARADIGMS))
def test_a_study_of_each_paradigm_is_made_from_the_selected_sets_and_a_seedless_2afc_is_refused(client, researcher,
                                                                                                 paradigm):
    with_seeds = import_through_the_api(researcher, the_zip(), name="seeded")
    seedless = import_through_the_api(researcher, the_zip(seeds=False), name="seedless")
    client.force_login(researcher)
    changelist = reverse("admin:generation_importedstimulusset_changelist")

    refused = client.post(changelist, {"action": "create_2afc_study", "_selected_action": [seedless.pk]}, follow=True)
    assert any("needs each IRI's seed" in str(m) for m in refused.context["messages"])
    assert not Study.objects.exists()

    accepted = client.post(changelist, {"action": f"create_{paradigm}_study", "_selected_action": [with_seeds.pk]})

    study = Study.objects.get()
    assert accepted["Location"] == reverse("admin:studies_study_change", args=[study.pk])
    assert (study.paradigm, list(study.jobs.all()), study.items.count()) == (paradigm, [with_seeds], 8)
    assert sorted(study.conditions.values_list("label", flat=True)) == ["cond-0 (model-0 / layer3)",
                                                                        "cond-1 (model-1 / layer3)"]


# --- the REST API -----------------------------------------------------------------------------------

def test_the_owner_imports_a_set_reads_it_and_builds_a_study_from_it(researcher, api_as):
    api = api_as(researcher)

    made = api.post(SETS, {"name": "lab-x", "file": as_upload(the_zip(seeds=False))}, format="multipart")

    assert made.status_code == 201, made.content
    body = made.json()
    assert (body["name"], body["kind"], body["status"]) == ("lab-x", "imported", "done")
    assert body["conditions"] == [{"name": "cond-0", "model": "model-0", "layer": "layer3", "stimuli": 4, "passing": 4},
                                  {"name": "cond-1", "model": "model-1", "layer": "layer3", "stimuli": 4, "passing": 4}]
    assert api.get(SETS).json() == [api.get(f"{SETS}{body['id']}/").json()]
    stimuli = api.get(f"/api/jobs/{body['id']}/stimuli/").json()
    assert (len(stimuli), stimuli[0]["final_rep_loss"], stimuli[0]["config"]["iri"]) == (8, None, "iris/cond-0/t0.png")
    assert api.get(stimuli[0]["images"]["iri"]).status_code == 200
    assert "imported without one" in api.get(stimuli[0]["images"]["seed"]).json()["detail"]
    study = api.post("/api/studies/", {"name": "matched", "jobs": [body["id"]], "paradigm": "matching",
                                       "design": {"k": 3}}, format="json")
    assert study.status_code == 201, study.content
    assert [c["items"] for c in study.json()["conditions"]] == [4, 4]


def test_a_bad_set_is_refused_with_a_400_that_names_the_item_and_stores_nothing(researcher, api_as, settings):
    manifest, files = factories.stimulus_set(conditions=2, targets=4)
    manifest["items"][4]["category"] = 7

    response = api_as(researcher).post(SETS, {"name": "bad", "file": as_upload(factories.stimulus_set_zip(
        manifest, files))}, format="multipart")

    assert response.status_code == 400
    assert response.json()["detail"] == ["manifest.json: items[4].category must be text of at most 100 characters."]
    assert (GenerationJob.objects.count(), Stimulus.objects.count(), files_in_storage(settings)) == (0, 0, [])


def test_a_set_is_its_owners_alone(researcher, other_researcher, api_as):
    made = import_through_the_api(researcher, the_zip(), name="lab-x")

    assert api_as(other_researcher).get(f"{SETS}{made.pk}/").status_code == 404
    assert api_as(other_researcher).get(SETS).json() == []
    assert api_as(researcher).get(f"{SETS}{factories.finished_job(researcher).pk}/").status_code == 404
    assert APIClient().get(SETS).status_code == 401
    assert APIClient().post(SETS, {"name": "x", "file": as_upload(the_zip())}, format="multipart").status_code == 401
    assert GenerationJob.objects.filter(kind=JobKind.IMPORTED).count() == 1


def test_the_results_page_and_stimulus_export_of_its_study_name_the_sets_models_and_layers(client, researcher):
    made = import_through_the_api(researcher, the_zip(), name="lab-x")
    study = study_create(owner=researcher, jobs=[made], paradigm="similarity", design=factories.BARE_DESIGN)
    client.force_login(researcher)

    page = client.get(reverse("scoring-study-results", args=[study.pk])).content.decode()
    export = b"".join(client.get(reverse("scoring-study-stimuli", args=[study.pk])).streaming_content).decode()

    assert "<td>cond-1 (model-1 / layer3)</td><td>model-1</td>" in page
    assert ",model-1,layer3,,," in export
